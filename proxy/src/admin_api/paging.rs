//! Lists come a page at a time: `limit` (1 to 1000, [`DEFAULT_PAGE`] by
//! default) and `cursor` (the `next_cursor` of the previous page, opaque;
//! `null` on the last page). Pages are in name order; a cursor survives
//! rows added or deleted between pages (see the store's `paging.rs`).

use embedgate_store::{ListRequest, MAX_PAGE_ITEMS};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::input::int_param;

/// Items in a page when `limit` is not given.
pub const DEFAULT_PAGE: u32 = 100;

/// The query of a list: search text, page size and cursor.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Case-insensitive substring of the name or description (tokens: of
    /// the name).
    pub search: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size asked for, checked.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match int_param("limit", self.limit.as_deref())? {
            None => Ok(DEFAULT_PAGE),
            Some(l) if (1..=i64::from(MAX_PAGE_ITEMS)).contains(&l) => {
                Ok(u32::try_from(l).unwrap_or(DEFAULT_PAGE))
            }
            Some(_) => Err(ApiError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE_ITEMS}"),
            )),
        }
    }

    /// The store's request for one list, continuing at `cursor`.
    pub fn request(&self, limit: u32, cursor: Option<String>) -> ListRequest {
        ListRequest::first(limit)
            .after(cursor)
            .matching(self.search.as_deref().unwrap_or(""))
    }
}

/// Where a listing of two lists (embed secrets, then credentials) is.
#[derive(Debug, PartialEq, Eq)]
pub enum TwoListCursor {
    /// In the first list, after this store cursor (`None`: at its start).
    First(Option<String>),
    /// In the second list.
    Second(Option<String>),
}

impl TwoListCursor {
    /// Reads an API cursor (`None`: the start).
    pub fn parse(cursor: Option<&str>) -> Result<TwoListCursor, ApiError> {
        let bad = || ApiError::invalid("cursor", "not a cursor this API returned");
        let Some(c) = cursor else {
            return Ok(TwoListCursor::First(None));
        };
        let (list, rest) = c.split_once('.').ok_or_else(bad)?;
        let rest = (!rest.is_empty()).then(|| rest.to_owned());
        match list {
            "s" => Ok(TwoListCursor::First(rest)),
            "c" => Ok(TwoListCursor::Second(rest)),
            _ => Err(bad()),
        }
    }

    /// The API cursor (store cursors are URL-safe base64: no `.`).
    pub fn encode(&self) -> String {
        match self {
            TwoListCursor::First(c) => format!("s.{}", c.as_deref().unwrap_or("")),
            TwoListCursor::Second(c) => format!("c.{}", c.as_deref().unwrap_or("")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors() {
        let q = |limit: &str| PageQuery {
            limit: Some(limit.into()),
            ..PageQuery::default()
        };
        assert_eq!(PageQuery::default().limit().ok(), Some(DEFAULT_PAGE));
        assert_eq!(q("1000").limit().ok(), Some(1000));
        for bad in ["0", "1001", "-1", "ten"] {
            assert_eq!(
                q(bad).limit().expect_err(bad).field.as_deref(),
                Some("limit")
            );
        }
        for c in [
            TwoListCursor::First(Some("abc".into())),
            TwoListCursor::Second(None),
            TwoListCursor::Second(Some("x_y-z".into())),
        ] {
            assert_eq!(TwoListCursor::parse(Some(&c.encode())).ok(), Some(c));
        }
        assert!(TwoListCursor::parse(Some("zzz")).is_err());
        assert!(TwoListCursor::parse(Some("q.abc")).is_err());
    }
}
