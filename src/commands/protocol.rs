//! Requests and replies framed for the control socket: one JSON object per
//! line each way, each carrying the protocol version, so that a client and
//! a daemon of different versions say so instead of misreading each other.
//!
//! ```text
//! client → daemon  {"protocol": 1, "clipwatch": "0.1.0", "request": {"command": "jobs", "state": "failed"}}
//! daemon → client  {"protocol": 1, "clipwatch": "0.1.0", "reply": {"kind": "jobs", "data": [...]}}
//!              or  {"protocol": 1, "clipwatch": "0.1.0", "error": {"kind": "not_found", "message": "no job 7"}}
//! ```
//!
//! [`PROTOCOL_VERSION`] changes when a request or reply changes in a way
//! the other side cannot read; adding a request does not change it (an
//! older daemon answers `bad_request`). Clipwatch before protocol versions
//! sent its command line (`{"args": [...]}`) and read `{"code", "out"}`:
//! both directions recognise that shape and answer it with the mismatch.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CommandError, ErrorKind, Reply, Request};

/// The version of the frames and of [`Request`]/[`Reply`].
pub const PROTOCOL_VERSION: u32 = 1;
/// This program's version, sent along for clearer mismatch messages.
const CLIPWATCH_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize)]
struct RequestFrame<'a> {
    protocol: u32,
    clipwatch: &'a str,
    request: &'a Request,
}

#[derive(Serialize)]
struct ReplyFrame<'a> {
    protocol: u32,
    clipwatch: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<&'a Reply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a CommandError>,
}

/// Any frame, read leniently: which fields are there decides what it is.
#[derive(Deserialize)]
struct Envelope {
    protocol: Option<u32>,
    clipwatch: Option<String>,
    request: Option<Value>,
    reply: Option<Value>,
    error: Option<Value>,
    /// A client before protocol versions: its command line.
    args: Option<Value>,
    /// A daemon before protocol versions: `{"code", "out"}` or `{"busy"}`.
    code: Option<Value>,
    busy: Option<bool>,
}

/// One line: `value` as JSON and a newline.
fn line(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).expect("frames serialize");
    bytes.push(b'\n');
    bytes
}

/// The line a client sends.
pub fn encode_request(request: &Request) -> Vec<u8> {
    line(&RequestFrame {
        protocol: PROTOCOL_VERSION,
        clipwatch: CLIPWATCH_VERSION,
        request,
    })
}

/// The line the daemon answers with.
pub fn encode_reply(result: &Result<Reply, CommandError>) -> Vec<u8> {
    let (reply, error) = match result {
        Ok(reply) => (Some(reply), None),
        Err(error) => (None, Some(error)),
    };
    line(&ReplyFrame {
        protocol: PROTOCOL_VERSION,
        clipwatch: CLIPWATCH_VERSION,
        reply,
        error,
    })
}

/// What the daemon read from a client.
#[derive(Debug)]
pub enum Incoming {
    Request(Request),
    /// Not a request this daemon can run: answer [`encode_reply`] with it.
    Refused(CommandError),
    /// A client from before protocol versions: answer [`encode_legacy`].
    Legacy(CommandError),
}

/// Read a client's line.
pub fn decode_request(bytes: &[u8]) -> Incoming {
    let envelope: Envelope = match serde_json::from_slice(bytes) {
        Ok(envelope) => envelope,
        Err(err) => return Incoming::Refused(bad_request(format!("not a request frame: {err}"))),
    };
    let Some(theirs) = envelope.protocol else {
        if envelope.args.is_some() {
            return Incoming::Legacy(mismatch(
                "this clipwatch client sends command lines (no protocol version)",
            ));
        }
        return Incoming::Refused(bad_request("the request frame has no protocol version"));
    };
    if theirs != PROTOCOL_VERSION {
        let client = match &envelope.clipwatch {
            Some(version) => format!("this client (clipwatch {version})"),
            None => "this client".to_string(),
        };
        return Incoming::Refused(mismatch(&format!(
            "{client} speaks protocol version {theirs}"
        )));
    }
    let Some(request) = envelope.request else {
        return Incoming::Refused(bad_request("the request frame holds no request"));
    };
    match serde_json::from_value(request) {
        Ok(request) => Incoming::Request(request),
        Err(err) => Incoming::Refused(bad_request(format!(
            "the daemon (clipwatch {CLIPWATCH_VERSION}) does not understand this request \
             ({err}); if clipwatch was upgraded, restart the daemon"
        ))),
    }
}

/// The daemon's side of a mismatch: what it speaks and what to do.
fn mismatch(client: &str) -> CommandError {
    CommandError::new(
        ErrorKind::Protocol,
        format!(
            "protocol version mismatch: {client}, the daemon (clipwatch {CLIPWATCH_VERSION}) \
             speaks protocol version {PROTOCOL_VERSION}; use the clipwatch binary of the \
             daemon's version, or restart the daemon with this one"
        ),
    )
}

fn bad_request(message: impl Into<String>) -> CommandError {
    CommandError::new(ErrorKind::BadRequest, message)
}

/// The answer a client from before protocol versions can print:
/// `{"code": 1, "out": {"stdout": "", "stderr": "clipwatch: …"}}`.
pub fn encode_legacy(error: &CommandError) -> Vec<u8> {
    line(&serde_json::json!({
        "code": error.kind.exit_code(),
        "out": { "stdout": "", "stderr": format!("clipwatch: {}\n", error.message) },
    }))
}

/// Read the daemon's line. `Err` when it is not a frame at all.
pub fn decode_reply(text: &str) -> Result<Result<Reply, CommandError>, String> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Some(theirs) = envelope.protocol else {
        if envelope.busy == Some(true) {
            return Ok(Err(busy()));
        }
        if envelope.code.is_some() {
            return Ok(Err(client_mismatch(
                "the daemon is an older clipwatch that takes command lines (no protocol version)"
                    .into(),
            )));
        }
        return Err("the reply has no protocol version".into());
    };
    if theirs != PROTOCOL_VERSION {
        let daemon = match &envelope.clipwatch {
            Some(version) => format!("the daemon (clipwatch {version})"),
            None => "the daemon".to_string(),
        };
        return Ok(Err(client_mismatch(format!(
            "{daemon} speaks protocol version {theirs}"
        ))));
    }
    if let Some(error) = envelope.error {
        let error: CommandError = serde_json::from_value(error).map_err(|e| e.to_string())?;
        return Ok(Err(error));
    }
    let reply = envelope.reply.ok_or("the reply frame holds no reply")?;
    serde_json::from_value(reply)
        .map(Ok)
        .map_err(|e| e.to_string())
}

/// The client's side of a mismatch.
fn client_mismatch(daemon: String) -> CommandError {
    CommandError::new(
        ErrorKind::Protocol,
        format!(
            "protocol version mismatch: {daemon}, this clipwatch ({CLIPWATCH_VERSION}) speaks \
             protocol version {PROTOCOL_VERSION}; restart the daemon (e.g. `systemctl restart \
             clipwatch`) so that it runs this version, or use the clipwatch binary of its version"
        ),
    )
}

/// A daemon from before protocol versions serves as many connections as
/// it allows.
fn busy() -> CommandError {
    CommandError::new(
        ErrorKind::Busy,
        "the daemon is busy: all its control connections are running commands; try again in \
         a moment",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_request_goes_through_a_frame_and_back() {
        let request = Request::Show { job: "3".into() };
        match decode_request(&encode_request(&request)) {
            Incoming::Request(read) => assert_eq!(read, request),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reply_and_an_error_go_through_a_frame_and_back() {
        let reply = Ok(Reply::Jobs(Vec::new()));
        assert_eq!(decode_reply(&text(encode_reply(&reply))).unwrap(), reply);
        let error = Err(CommandError::new(ErrorKind::NotFound, "no job 7"));
        assert_eq!(decode_reply(&text(encode_reply(&error))).unwrap(), error);
    }

    #[test]
    fn another_protocol_version_is_named_on_both_sides() {
        let frame = br#"{"protocol": 999, "clipwatch": "9.0.0", "request": {"command": "status"}}"#;
        let Incoming::Refused(error) = decode_request(frame) else {
            panic!("a request of protocol 999 was taken");
        };
        assert_eq!(error.kind, ErrorKind::Protocol);
        assert!(
            error
                .message
                .contains("clipwatch 9.0.0) speaks protocol version 999")
                && error.message.contains("speaks protocol version 1;"),
            "{}",
            error.message
        );
        let answer = r#"{"protocol": 999, "reply": {"kind": "teleported", "data": 1}}"#;
        let error = decode_reply(answer).unwrap().unwrap_err();
        assert_eq!(error.kind, ErrorKind::Protocol);
        assert!(
            error.message.contains("daemon speaks protocol version 999"),
            "{}",
            error.message
        );
    }

    #[test]
    fn clients_and_daemons_from_before_protocol_versions_are_told() {
        let Incoming::Legacy(error) = decode_request(br#"{"args": ["status"]}"#) else {
            panic!("an argv frame was not recognised");
        };
        let legacy: Value = serde_json::from_slice(&encode_legacy(&error)).unwrap();
        assert_eq!(legacy["code"], 1);
        assert!(legacy["out"]["stderr"]
            .as_str()
            .unwrap()
            .contains("protocol version mismatch"));
        let old = r#"{"code": 2, "out": {"stdout": "", "stderr": "bad request"}}"#;
        assert_eq!(
            decode_reply(old).unwrap().unwrap_err().kind,
            ErrorKind::Protocol
        );
        assert_eq!(
            decode_reply(r#"{"busy": true}"#).unwrap().unwrap_err().kind,
            ErrorKind::Busy
        );
    }

    #[test]
    fn unreadable_frames_are_bad_requests() {
        for frame in [&b"not json"[..], br#"{"request": {"command": "status"}}"#] {
            let Incoming::Refused(error) = decode_request(frame) else {
                panic!("{frame:?} was taken");
            };
            assert_eq!(error.kind, ErrorKind::BadRequest);
        }
        let unknown = br#"{"protocol": 1, "request": {"command": "notify_test"}}"#;
        let Incoming::Refused(error) = decode_request(unknown) else {
            panic!("an unknown command was taken");
        };
        assert!(
            error.message.contains("restart the daemon"),
            "{}",
            error.message
        );
        assert!(decode_reply("{}").is_err());
    }
}
