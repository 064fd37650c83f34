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

/// Entries a home bucket takes before a new key goes to its spill bucket
/// (see [`buckets_of`]).
/// (Two in unit tests, so that spilling is exercised without 16 000 keys.)
const HOME_CAP: usize = if cfg!(test) { 2 } else { 64 };

/// The two buckets `key` may live in (sled keys in `skips`), home first.
///
/// **On-disk contract:** records are found by these exact values, and the
/// migration does not move records between buckets. Changing this function
/// or [`folder_of`] needs a new store format and a migration that
/// re-buckets `skips` (the golden values in the tests pin it).
///
/// The spill bucket is two bytes of the key's SHA-256: 65 536 buckets, few
/// enough that sled's per-page memory stays a few MiB, enough that a bucket
/// holds about 15 entries at a million keys. A file URL in a folder has a
/// home bucket among its folder's 256 (see [`folder_of`]) and goes to its
/// spill bucket only once the home bucket holds [`HOME_CAP`] entries, so a
/// folder that many shows share (a podcast host's, a tracking prefix's)
/// cannot grow buckets without bound. Other keys: both are the same.
pub(super) fn buckets_of(key: &[u8]) -> [[u8; 2]; 2] {
    let digest = Sha256::digest(key);
    let spill = [digest[0], digest[1]];
    match folder_of(key) {
        Some(folder) => [[Sha256::digest(folder)[0], digest[1]], spill],
        None => [spill, spill],
    }
}

/// A `url:` key's URL up to its last `/`, if that is below the host: one
/// feed's files often share it (`…/rss1/0.mp4`, libsyn's
/// `…/secure/<show>/…`), and keeping them in 256 neighbouring buckets keeps
/// a feed's writes on a few sled pages, which halved the file and made a
/// million-key first pass 3 × faster (BENCHMARKS.md). Files at a host's
/// root (megaphone's `traffic.megaphone.fm/<id>.mp3`) go to their spill
/// bucket directly. Keys have no fragment (`model::identity`).
fn folder_of(key: &[u8]) -> Option<&[u8]> {
    let url = key.strip_prefix(b"url:")?;
    let end = url.iter().position(|&b| b == b'?').unwrap_or(url.len());
    let slash = url[..end].iter().rposition(|&b| b == b'/')?;
    let folder = &url[..slash];
    // `scheme://host/x` has three slashes; `scheme://host` two.
    (folder.iter().filter(|&&b| b == b'/').count() >= 3).then_some(folder)
}

/// A bucket whose value does not parse: never written so, so the database
/// is damaged. Reported, never rewritten (that would drop its entries).
#[derive(Debug)]
pub(super) struct Malformed;

/// One entry of a bucket: a key and its record.
pub(super) type Entry<'a> = (&'a [u8], &'a [u8]);

/// The entries of a bucket's value, in order.
pub(super) fn entries(bucket: &[u8]) -> Result<Vec<Entry<'_>>, Malformed> {
    let mut reader = record::Reader(bucket);
    let mut all = Vec::new();
    while !reader.0.is_empty() {
        let key = reader.slice().ok_or(Malformed)?;
        let value = reader.slice().ok_or(Malformed)?;
        all.push((key, value));
    }
    Ok(all)
}

/// `key`'s record in the bucket value `bucket`.
pub(super) fn find<'a>(bucket: &'a [u8], key: &[u8]) -> Result<Option<&'a [u8]>, Malformed> {
    Ok(entries(bucket)?
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v))
}

/// `bucket` with `key` set to `value` (or removed, for `None`), and the
/// record it held before.
fn with(
    bucket: &[u8],
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(Vec<u8>, Option<Vec<u8>>), Malformed> {
    let mut out = record::Writer(Vec::with_capacity(bucket.len() + 64));
    let mut old = None;
    for (k, v) in entries(bucket)? {
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
    Ok((out.0, old))
}

/// Aborts the transaction: see [`Malformed`].
fn abort(_: Malformed) -> ConflictableTransactionError<()> {
    ConflictableTransactionError::Abort(())
}

/// The bucket holding a key: its name, its value and the key's record.
type Holder = ([u8; 2], Vec<u8>, Vec<u8>);

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
        Ok(self.holder(key)?.map(|(_, _, record)| record))
    }

    /// The bucket that holds `key`: its name, value and `key`'s record.
    fn holder(&self, key: &[u8]) -> TxResult<Option<Holder>> {
        let [home, spill] = buckets_of(key);
        for name in if home == spill {
            vec![home]
        } else {
            vec![home, spill]
        } {
            if let Some(bucket) = self.skips.get(name)? {
                if let Some(record) = find(&bucket, key).map_err(abort)? {
                    let record = record.to_vec();
                    return Ok(Some((name, bucket.to_vec(), record)));
                }
            }
        }
        Ok(None)
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

    /// Set or remove `key` where it is, or put it in its home bucket (its
    /// spill bucket once home is full), moving the count with it.
    fn set_in_bucket(&self, key: &[u8], value: Option<&[u8]>) -> TxResult<Option<Vec<u8>>> {
        let (name, current) = match self.holder(key)? {
            Some((name, bucket, _)) => (name, bucket),
            None if value.is_none() => return Ok(None),
            None => self.bucket_for_new(key)?,
        };
        let (updated, old) = with(&current, key, value).map_err(abort)?;
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

    fn bucket_for_new(&self, key: &[u8]) -> TxResult<([u8; 2], Vec<u8>)> {
        let [home, spill] = buckets_of(key);
        let home_bucket = self
            .skips
            .get(home)?
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let full = entries(&home_bucket).map_err(abort)?.len() >= HOME_CAP;
        if full && home != spill {
            let spill_bucket = self
                .skips
                .get(spill)?
                .map(|b| b.to_vec())
                .unwrap_or_default();
            return Ok((spill, spill_bucket));
        }
        Ok((home, home_bucket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_sets_replaces_and_removes_entries_keeping_the_others() {
        let (one, old) = with(&[], b"url:a", Some(&[1, 2])).unwrap();
        assert_eq!(old, None);
        let (two, _) = with(&one, b"youtube:b", Some(&[3])).unwrap();
        assert_eq!(find(&two, b"url:a").unwrap(), Some(&[1u8, 2][..]));
        assert_eq!(find(&two, b"youtube:b").unwrap(), Some(&[3u8][..]));
        assert_eq!(find(&two, b"url:").unwrap(), None, "a prefix is not a key");
        let (replaced, old) = with(&two, b"url:a", Some(&[9])).unwrap();
        assert_eq!(old.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(entries(&replaced).unwrap().len(), 2);
        assert_eq!(find(&replaced, b"url:a").unwrap(), Some(&[9u8][..]));
        let (removed, old) = with(&replaced, b"youtube:b", None).unwrap();
        assert_eq!(old.as_deref(), Some(&[3u8][..]));
        assert_eq!(entries(&removed).unwrap(), [(&b"url:a"[..], &[9u8][..])]);
        let (empty, _) = with(&removed, b"url:a", None).unwrap();
        assert!(empty.is_empty());
        // A damaged value is an error, never a shorter bucket.
        let mut damaged = two.clone();
        damaged.push(7);
        assert!(find(&damaged, b"url:a").is_err());
        assert!(with(&damaged, b"url:c", Some(&[1])).is_err());
    }

    #[test]
    fn long_keys_and_records_survive_the_varint_lengths() {
        let key = vec![b'k'; 5000];
        let value = vec![1u8; 300];
        let (bucket, _) = with(&[], &key, Some(&value)).unwrap();
        assert_eq!(find(&bucket, &key).unwrap(), Some(&value[..]));
    }

    #[test]
    fn a_feed_folder_keeps_its_files_in_neighbouring_buckets() {
        assert_eq!(
            folder_of(b"url:https://cdn.example/show/ep1.mp3?x=a/b"),
            Some(&b"https://cdn.example/show"[..])
        );
        assert_eq!(folder_of(b"url:https://traffic.example/abc.mp3"), None);
        assert_eq!(folder_of(b"youtube:abcdefghijk"), None);
        let home =
            |i: u32| buckets_of(format!("url:https://cdn.example/show/{i}.mp3").as_bytes())[0];
        assert!((0..100).all(|i| home(i)[0] == home(0)[0]));
        let spread: std::collections::HashSet<_> = (0..100).map(home).collect();
        assert!(spread.len() > 70, "{} buckets for 100 files", spread.len());
    }

    /// The on-disk contract (see [`buckets_of`]): these must never change
    /// without a new store format.
    #[test]
    fn bucket_names_are_pinned() {
        let pinned = |key: &str| {
            buckets_of(key.as_bytes())
                .iter()
                .map(|b| format!("{:02x}{:02x}", b[0], b[1]))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // Computed apart with Python hashlib: sha256(folder)[0] + sha256(key)[1], sha256(key)[..2].
        assert_eq!(pinned("youtube:abcdefghijk"), "d2ee d2ee");
        assert_eq!(pinned("url:https://videos.example/rss1/6.mp4"), "abc8 19c8");
        assert_eq!(pinned("url:https://traffic.example/abc.mp3"), "b65e b65e");
    }

    #[test]
    fn buckets_spread_keys() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000 {
            seen.insert(buckets_of(format!("youtube:{i:011}").as_bytes())[0]);
        }
        assert!(seen.len() > 950, "{} buckets for 1000 keys", seen.len());
    }
}
