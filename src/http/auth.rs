//! Who may act (submit, retry, forget): with `token_file`, an API client
//! sends `Authorization: Bearer <token>`; a browser logs in once with the
//! token and gets a session cookie (HttpOnly, SameSite=Strict), and every
//! form carries the session's CSRF token. Sessions live in memory: a
//! restart logs everyone out.

use std::io::Read as _;
use std::sync::Mutex;

use axum::http::HeaderMap;

use crate::secret::Secret;

pub const COOKIE: &str = "clipwatch_session";
/// Sessions kept at most; the oldest goes first.
const MAX_SESSIONS: usize = 64;

/// session id → CSRF token.
#[derive(Default)]
pub struct Sessions(Mutex<Vec<(String, String)>>);

impl Sessions {
    /// A new session: its id (for the cookie) and CSRF token.
    pub fn open(&self) -> (String, String) {
        let (id, csrf) = (random_hex(), random_hex());
        let mut sessions = self.0.lock().expect("sessions lock");
        if sessions.len() >= MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push((id.clone(), csrf.clone()));
        (id, csrf)
    }

    /// The CSRF token of the session named by the request's cookie.
    pub fn csrf_for(&self, headers: &HeaderMap) -> Option<String> {
        let id = cookie(headers, COOKIE)?;
        let sessions = self.0.lock().expect("sessions lock");
        sessions
            .iter()
            .find(|(known, _)| same(known, &id))
            .map(|(_, csrf)| csrf.clone())
    }

    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.0
                .lock()
                .expect("sessions lock")
                .retain(|(known, _)| !same(known, &id));
        }
    }
}

/// Whether the request carries `Authorization: Bearer <token>`.
pub fn bearer_ok(headers: &HeaderMap, token: &Secret) -> bool {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim(), token.expose()))
}

/// Compare without an early exit (no timing hint of how much matched).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// 32 random bytes from the kernel, as hex.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom is readable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_by_cookie_and_closed() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.open();
        let mut headers = HeaderMap::new();
        headers.insert("cookie", format!("a=b; {COOKIE}={id}").parse().unwrap());
        assert_eq!(sessions.csrf_for(&headers), Some(csrf));
        sessions.close(&headers);
        assert_eq!(sessions.csrf_for(&headers), None);
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let token = Secret::new("0123456789abcdef");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer 0123456789abcdeX".parse().unwrap());
        assert!(!bearer_ok(&headers, &token));
        headers.insert("authorization", "Bearer 0123456789abcdef".parse().unwrap());
        assert!(bearer_ok(&headers, &token));
    }
}
