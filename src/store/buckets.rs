//! Where the compact skips live: tree `skips`, at most 65 536 sled entries
//! (buckets) for however many keys. A key's bucket is two bytes of SHA-256:
//! of its folder and of itself for a file URL in a folder, both of itself
//! otherwise ([`bucket_of`]). A bucket's value is its entries one after
//! another (varint key length, key, varint record length, record).
//!
//! Why not one sled entry per key: sled keeps a page for every 16 or so
//! entries and holds bookkeeping for every page in memory for as long as
//! the database is open. A million skipped keys as a million entries kept
//! an idle daemon at 51–59 MiB and made opening the database take 200–400
//! ms (BENCHMARKS.md, "Compact store"); as 65 536 buckets they are a few
//! thousand pages. The price is a read-modify-write of a bucket (about 15
//! entries at a million keys) for each skip written or changed.
//!
//! [`TxRecords`] puts the two trees together as one map from key to record
//! inside a transaction: JSON records in `jobs`, compact ones here, a key
//! in at most one of them. A meta counter holds how many keys the buckets
//! hold, moved in the same transaction, so `status` need not read them.

use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::record;

pub(super) const TREE: &str = "skips";
/// `meta` key: how many records the buckets hold.
pub(super) const COUNT: &str = "skips:count";

type TxResult<T> = Result<T, ConflictableTransactionError<()>>;

/// The bucket `key` belongs to (its sled key in `skips`): 16 bits, enough
/// that a bucket stays small (about 15 entries at a million keys), few
/// enough that sled's per-page memory stays a few MiB.
pub(super) fn bucket_of(key: &[u8]) -> [u8; 2] {
    let digest = Sha256::digest(key);
    match folder_of(key) {
        Some(folder) => [Sha256::digest(folder)[0], digest[1]],
        None => [digest[0], digest[1]],
    }
}

/// A `url:` key's URL up to its last `/`, if that is below the host: one
/// feed's files often share it (`…/rss1/0.mp4`, libsyn's
/// `…/secure/<show>/…`), and keeping them in 256 neighbouring buckets keeps
/// a feed's writes on a few sled pages, which halved the file and made a
/// million-key first pass 3 × faster (BENCHMARKS.md). Files at a host's
/// root (megaphone's `traffic.megaphone.fm/<id>.mp3`, every show at one
/// host) are spread over all buckets instead, so that one host cannot
/// crowd 256 buckets.
fn folder_of(key: &[u8]) -> Option<&[u8]> {
    let url = key.strip_prefix(b"url:")?;
    let end = url.iter().position(|&b| b == b'?').unwrap_or(url.len());
    let slash = url[..end].iter().rposition(|&b| b == b'/')?;
    let folder = &url[..slash];
    // `scheme://host/x` has three slashes; `scheme://host` two.
    (folder.iter().filter(|&&b| b == b'/').count() >= 3).then_some(folder)
}

/// The entries of a bucket's value, in order; a value that ends early
/// stops the iteration (it is never written so).
pub(super) fn entries(bucket: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = bucket;
    std::iter::from_fn(move || {
        let mut reader = record::Reader(rest);
        let key = reader.slice()?;
        let value = reader.slice()?;
        rest = reader.0;
        Some((key, value))
    })
}

/// `key`'s record in the bucket value `bucket`.
pub(super) fn find<'a>(bucket: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    entries(bucket).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// `bucket` with `key` set to `value` (or removed, for `None`), and the
/// record it held before.
fn with(bucket: &[u8], key: &[u8], value: Option<&[u8]>) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut out = record::Writer(Vec::with_capacity(bucket.len() + 64));
    let mut old = None;
    for (k, v) in entries(bucket) {
        if k == key {
            old = Some(v.to_vec());
        } else {
            out.slice(k);
            out.slice(v);
        }
    }
    if let Some(value) = value {
        out.slice(key);
        out.slice(value);
    }
    (out.0, old)
}

/// The `jobs` tree and the buckets as one map, inside a transaction.
pub(super) struct TxRecords<'a> {
    pub jobs: &'a TransactionalTree,
    pub skips: &'a TransactionalTree,
    pub meta: &'a TransactionalTree,
}

impl TxRecords<'_> {
    pub fn get(&self, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        if let Some(json) = self.jobs.get(key)? {
            return Ok(Some(json.to_vec()));
        }
        let bucket = self.skips.get(bucket_of(key))?;
        Ok(bucket.and_then(|b| find(&b, key).map(<[u8]>::to_vec)))
    }

    /// Store `record` for `key`, in the buckets if it is compact and in
    /// `jobs` if not, and take it out of the other. Returns the old record.
    pub fn insert(&self, key: &[u8], record: &[u8]) -> TxResult<Option<Vec<u8>>> {
        if record::is_compact(record) {
            let old_json = self.jobs.remove(key)?;
            let old = self.set_in_bucket(key, Some(record))?;
            Ok(old_json.map(|v| v.to_vec()).or(old))
        } else {
            let old_compact = self.set_in_bucket(key, None)?;
            let old = self.jobs.insert(key, record)?;
            Ok(old.map(|v| v.to_vec()).or(old_compact))
        }
    }

    /// Take `key` out of both; returns its record.
    pub fn remove(&self, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        let old_json = self.jobs.remove(key)?;
        let old_compact = self.set_in_bucket(key, None)?;
        Ok(old_json.map(|v| v.to_vec()).or(old_compact))
    }

    /// Set or remove `key` in its bucket, moving the count with it.
    fn set_in_bucket(&self, key: &[u8], value: Option<&[u8]>) -> TxResult<Option<Vec<u8>>> {
        let name = bucket_of(key);
        let bucket = self.skips.get(name)?;
        let current = bucket.as_deref().unwrap_or_default();
        if value.is_none() && find(current, key).is_none() {
            return Ok(None);
        }
        let (updated, old) = with(current, key, value);
        if updated.is_empty() {
            self.skips.remove(&name)?;
        } else {
            self.skips.insert(&name, updated)?;
        }
        let delta = i64::from(value.is_some()) - i64::from(old.is_some());
        if delta != 0 {
            let count = self.meta.get(COUNT)?.map_or(0, |v| super::read_u64(&v));
            let count = count.saturating_add_signed(delta);
            self.meta.insert(COUNT, &count.to_be_bytes())?;
        }
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_sets_replaces_and_removes_entries_keeping_the_others() {
        let (one, old) = with(&[], b"url:a", Some(&[1, 2]));
        assert_eq!(old, None);
        let (two, _) = with(&one, b"youtube:b", Some(&[3]));
        assert_eq!(find(&two, b"url:a"), Some(&[1u8, 2][..]));
        assert_eq!(find(&two, b"youtube:b"), Some(&[3u8][..]));
        assert_eq!(find(&two, b"url:"), None, "a prefix is not a key");
        let (replaced, old) = with(&two, b"url:a", Some(&[9]));
        assert_eq!(old.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(entries(&replaced).count(), 2);
        assert_eq!(find(&replaced, b"url:a"), Some(&[9u8][..]));
        let (removed, old) = with(&replaced, b"youtube:b", None);
        assert_eq!(old.as_deref(), Some(&[3u8][..]));
        assert_eq!(
            entries(&removed).collect::<Vec<_>>(),
            [(&b"url:a"[..], &[9u8][..])]
        );
        let (empty, _) = with(&removed, b"url:a", None);
        assert!(empty.is_empty());
    }

    #[test]
    fn long_keys_and_records_survive_the_varint_lengths() {
        let key = vec![b'k'; 5000];
        let value = vec![1u8; 300];
        let (bucket, _) = with(&[], &key, Some(&value));
        assert_eq!(find(&bucket, &key), Some(&value[..]));
    }

    #[test]
    fn a_feed_folder_keeps_its_files_in_neighbouring_buckets() {
        assert_eq!(
            folder_of(b"url:https://cdn.example/show/ep1.mp3?x=a/b"),
            Some(&b"https://cdn.example/show"[..])
        );
        assert_eq!(folder_of(b"url:https://traffic.example/abc.mp3"), None);
        assert_eq!(folder_of(b"youtube:abcdefghijk"), None);
        let first =
            |i: u32| bucket_of(format!("url:https://cdn.example/show/{i}.mp3").as_bytes())[0];
        assert!((0..100).all(|i| first(i) == first(0)));
        let spread: std::collections::HashSet<_> = (0..100)
            .map(|i| bucket_of(format!("url:https://cdn.example/show/{i}.mp3").as_bytes()))
            .collect();
        assert!(spread.len() > 70, "{} buckets for 100 files", spread.len());
    }

    #[test]
    fn buckets_spread_keys() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000 {
            seen.insert(bucket_of(format!("youtube:{i:011}").as_bytes()));
        }
        assert!(seen.len() > 950, "{} buckets for 1000 keys", seen.len());
    }
}
