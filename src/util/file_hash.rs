//! The SHA-256 of a file, streamed: the drop folder names a local video by
//! it (`file:<sha256>`), `submit` computes it for a path, and the upload
//! step checks it again just before the bytes leave.

use std::fs;
use std::io::{self, Read};

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The SHA-256 of a file's content as lower-case hex, streamed (never read
/// whole). Stops with `Interrupted` once `cancel` fires.
pub fn sha256_file(mut file: fs::File, cancel: &CancellationToken) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        if cancel.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "shutting down"));
        }
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buf[..n]);
    }
    Ok(super::hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_streamed_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.mp4");
        fs::write(&file, b"abc").unwrap();
        assert_eq!(
            sha256_file(fs::File::open(&file).unwrap(), &CancellationToken::new()).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(
            sha256_file(fs::File::open(&file).unwrap(), &cancel)
                .unwrap_err()
                .kind(),
            io::ErrorKind::Interrupted
        );
    }
}
