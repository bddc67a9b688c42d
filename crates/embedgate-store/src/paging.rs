//! Listing in pages: a `limit` and an opaque cursor, in a stable order
//! (by name, case-insensitively, then id). The cursor is the sort key of
//! the last row of a page, so it survives rows inserted or deleted
//! between pages: the next page starts after that key, wherever it now is.

use base64::Engine as _;
use serde::Serialize;

use crate::error::StoreError;
use crate::sql::{Sql, SqlRow, Value};

/// Most items in one page.
pub const MAX_PAGE_ITEMS: u32 = 1000;

/// What page of a list to return.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListRequest {
    /// Only items whose name or description contains this, ignoring case
    /// (empty: all).
    pub search: String,
    /// At most this many items (1 to [`MAX_PAGE_ITEMS`]; 100 by default).
    pub limit: u32,
    /// Where to continue: [`ListPage::next_cursor`] of the previous page
    /// (`None`: from the start).
    pub cursor: Option<String>,
}

impl Default for ListRequest {
    fn default() -> ListRequest {
        ListRequest {
            search: String::new(),
            limit: 100,
            cursor: None,
        }
    }
}

impl ListRequest {
    /// The first page of at most `limit` items.
    pub fn first(limit: u32) -> ListRequest {
        ListRequest {
            limit,
            ..ListRequest::default()
        }
    }

    /// This request, continuing at `cursor`.
    pub fn after(mut self, cursor: Option<String>) -> ListRequest {
        self.cursor = cursor;
        self
    }

    /// This request, with a search text.
    pub fn matching(mut self, search: &str) -> ListRequest {
        self.search = search.to_owned();
        self
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListPage<T> {
    /// The items, by name.
    pub items: Vec<T>,
    /// Pass as [`ListRequest::cursor`] for the next page; `None` when this
    /// was the last.
    pub next_cursor: Option<String>,
}

/// Where a page starts: after this (name key, id).
struct Cursor {
    key: String,
    id: String,
}

impl Cursor {
    fn encode(&self) -> String {
        let json = serde_json::json!([self.key, self.id]).to_string();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(s: &str) -> Result<Cursor, StoreError> {
        let bad = || StoreError::invalid("cursor", "not a cursor this store returned");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad())?;
        let (key, id): (String, String) = serde_json::from_slice(&json).map_err(|_| bad())?;
        Ok(Cursor { key, id })
    }
}

/// Rows are read at least this many at a time while looking for search
/// matches.
const SEARCH_CHUNK: usize = 500;

/// One page of `table`'s rows (those where `filter`, with `?1` bound to
/// its value, holds), in name order, each read with `read` from `columns`
/// and kept if `keep` says so. Reads in chunks, so a search scans only as
/// far as it must.
pub(crate) fn page<T>(
    sql: &mut dyn Sql,
    table: &str,
    columns: &str,
    filter: Option<(&str, &str)>,
    request: &ListRequest,
    read: impl Fn(&dyn SqlRow) -> Result<T, StoreError>,
    keep: impl Fn(&T) -> bool,
) -> Result<ListPage<T>, StoreError> {
    let limit = request.limit.clamp(1, MAX_PAGE_ITEMS) as usize;
    let mut after = request.cursor.as_deref().map(Cursor::decode).transpose()?;
    let name_key = sql.dialect().name_key;
    // The name key and the id are read after the caller's columns.
    let n = columns.split(',').count();
    let mut items = Vec::with_capacity(limit);
    let mut last_kept: Option<Cursor> = None;
    // One row past the page tells whether another page follows.
    let chunk = if request.search.is_empty() {
        limit + 1
    } else {
        SEARCH_CHUNK.max(limit + 1)
    };
    loop {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        if let Some((condition, value)) = filter {
            conditions.push(condition.to_owned());
            values.push(Value::Text(value));
        }
        if let Some(c) = &after {
            conditions.push(format!(
                "({name_key}, id) > (?{}, ?{})",
                values.len() + 1,
                values.len() + 2
            ));
            values.push(Value::Text(&c.key));
            values.push(Value::Text(&c.id));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let statement = format!(
            "SELECT {columns}, {name_key}, id FROM {table}{filter} \
             ORDER BY {name_key}, id LIMIT {chunk}"
        );
        let mut read_rows = 0usize;
        let mut last_read: Option<Cursor> = None;
        let mut more = false;
        sql.query(&statement, &values, &mut |r| {
            read_rows += 1;
            if more {
                return Ok(());
            }
            let here = Cursor {
                key: r.text(n)?,
                id: r.text(n + 1)?,
            };
            let item = read(r)?;
            if keep(&item) {
                if items.len() == limit {
                    // A match past the page: there is a next page.
                    more = true;
                    return Ok(());
                }
                items.push(item);
                last_kept = Some(Cursor {
                    key: here.key.clone(),
                    id: here.id.clone(),
                });
            }
            last_read = Some(here);
            Ok(())
        })?;
        if more {
            break;
        }
        if read_rows < chunk {
            // The end of the table, and no match past the page.
            last_kept = None;
            break;
        }
        after = last_read;
    }
    Ok(ListPage {
        items,
        next_cursor: last_kept.map(|c| c.encode()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            key: "näme \"x\"".into(),
            id: "sec_1".into(),
        };
        let back = Cursor::decode(&c.encode()).expect("decodes");
        assert_eq!((back.key, back.id), (c.key, c.id));
        for bad in ["", "!!", "e30", "WzFd"] {
            assert_eq!(
                Cursor::decode(bad).err().map(|e| e.code()),
                Some("invalid_input")
            );
        }
    }
}
