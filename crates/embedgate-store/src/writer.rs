//! One write transaction of the store, whatever the backend: it starts by
//! taking the revision (locking it, so writers are serialised and every
//! change is decided on the latest committed state), refuses to write
//! under a master key another process rotated away, records every change
//! in the change log with the revision it makes, and ends by announcing
//! the revisions and ids it touched (PostgreSQL's `NOTIFY`).

use crate::canary;
use crate::change_log::{self, Change, SubjectKind};
use crate::error::StoreError;
use crate::master_key::MasterKey;
use crate::sql::{params, Sql};

/// The channel every committed change is announced on (PostgreSQL).
pub const NOTIFY_CHANNEL: &str = "embedgate_changes";

/// At most this many ids in one notification; more means "reload all"
/// (`"ids": null`). PostgreSQL caps a payload at 8000 bytes.
const MAX_NOTIFIED_IDS: usize = 200;

/// An open write transaction.
pub(crate) struct Writer<'t> {
    pub sql: &'t mut dyn Sql,
    pub key: &'t MasterKey,
    from: u64,
    revision: u64,
    touched: Vec<String>,
    kids: Vec<String>,
    full_reload: bool,
}

impl<'t> Writer<'t> {
    /// Takes the revision (and with it the write lock) and checks the key.
    pub(crate) fn begin(
        sql: &'t mut dyn Sql,
        key: &'t MasterKey,
    ) -> Result<Writer<'t>, StoreError> {
        let lock = sql.dialect().lock_revision;
        let from = u64::try_from(sql.int(lock, &[])?).unwrap_or(0);
        canary::ensure_current_key(sql, key)?;
        Ok(Writer {
            sql,
            key,
            from,
            revision: from,
            touched: Vec::new(),
            kids: Vec::new(),
            full_reload: false,
        })
    }

    /// Appends `c` to the change log under the next revision, and bumps
    /// the revision: every logged change is a change readers must notice,
    /// and vice versa. One indexed insert and one single-row update.
    pub(crate) fn record(&mut self, c: Change<'_>) -> Result<(), StoreError> {
        let revision = self.sql.int(
            "UPDATE store_meta SET value = value + 1 WHERE key = 'revision' RETURNING value",
            &[],
        )?;
        change_log::insert(self.sql, &c, revision)?;
        self.revision = u64::try_from(revision).unwrap_or(0);
        if !self.touched.iter().any(|t| t == c.subject_id) {
            self.touched.push(c.subject_id.to_owned());
        }
        // What a proxy that reads only the notification must refresh: the
        // client id (`eg_kid`) of an embed secret. A credential change
        // asks such a proxy to reload everything (proxies that read the
        // change log, `Store::changes_since`, need neither).
        match (c.kind, c.client_id) {
            (SubjectKind::EmbedSecret, Some(kid)) if self.kids.iter().any(|k| k == kid) => {}
            (SubjectKind::EmbedSecret, Some(kid)) => self.kids.push(kid.to_owned()),
            (SubjectKind::EmbedSecret | SubjectKind::Credential, _) => self.full_reload = true,
            _ => {}
        }
        Ok(())
    }

    /// Announces the change, if any and if the backend can; the caller
    /// commits.
    pub(crate) fn finish(self, schema: Option<&str>) -> Result<(), StoreError> {
        if self.revision == self.from {
            return Ok(());
        }
        if let (Some(notify), Some(schema)) = (self.sql.dialect().notify, schema) {
            let payload = self.payload(schema);
            self.sql
                .execute(notify, params![NOTIFY_CHANNEL, payload.as_str()])?;
        }
        Ok(())
    }

    /// `{"schema", "from", "revision", "ids", "kids"}`: the schema, the
    /// revision before and after, the row ids touched, and the client ids
    /// of the embed secrets touched; `ids`/`kids` are `null` when a
    /// listener reading only the notification must reload everything.
    /// Never a value or a name.
    fn payload(&self, schema: &str) -> String {
        let full = self.full_reload || self.touched.len() > MAX_NOTIFIED_IDS;
        let list = |v: &Vec<String>| {
            if full {
                serde_json::Value::Null
            } else {
                serde_json::Value::from(v.clone())
            }
        };
        serde_json::json!({
            "schema": schema,
            "from": self.from,
            "revision": self.revision,
            "ids": list(&self.touched),
            "kids": list(&self.kids),
        })
        .to_string()
    }
}
