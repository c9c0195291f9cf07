//! AWS event-stream messages (`application/vnd.amazon.eventstream`): the framing of streaming
//! answers such as SubscribeToShard's. Each message is a prelude, headers naming the message and
//! event type, a payload in the request's protocol (JSON or CBOR), and CRCs; the framing itself
//! is `aws-smithy-eventstream`'s, the SDKs' own code.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;

use crate::Protocol;

/// The content type of an event-stream answer.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Why a message could not be framed (a payload or header beyond the format's limits).
#[derive(Debug, thiserror::Error)]
#[error("event-stream framing failed: {0}")]
pub struct FrameError(String);

fn header(name: &'static str, value: &'static str) -> Header {
    Header::new(name, HeaderValue::String(value.into()))
}

fn frame(headers: Vec<Header>, payload: Vec<u8>) -> Result<Bytes, FrameError> {
    let message = Message::new_from_parts(headers, payload);
    let mut out = Vec::new();
    write_message_to(&message, &mut out).map_err(|e| FrameError(e.to_string()))?;
    Ok(Bytes::from(out))
}

/// An event of type `event_type` (an event member of the stream's union, or `initial-response`)
/// whose payload is `payload`, encoded in `protocol`.
pub fn event(
    event_type: &'static str,
    protocol: Protocol,
    payload: Vec<u8>,
) -> Result<Bytes, FrameError> {
    frame(
        vec![
            header(":message-type", "event"),
            header(":event-type", event_type),
            header(":content-type", protocol.content_type()),
        ],
        payload,
    )
}

/// A modelled exception event (`exception_type` is the error's shape name); the stream ends
/// after it.
pub fn exception(
    exception_type: &'static str,
    protocol: Protocol,
    payload: Vec<u8>,
) -> Result<Bytes, FrameError> {
    frame(
        vec![
            header(":message-type", "exception"),
            header(":exception-type", exception_type),
            header(":content-type", protocol.content_type()),
        ],
        payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    fn text(m: &Message, name: &str) -> String {
        m.headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .and_then(|h| h.value().as_string().ok())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn events_and_exceptions_decode_with_their_headers() {
        let bytes = event(
            "SubscribeToShardEvent",
            Protocol::Json,
            b"{\"a\":1}".to_vec(),
        )
        .unwrap();
        let m = read_message_from(bytes).unwrap();
        assert_eq!(text(&m, ":message-type"), "event");
        assert_eq!(text(&m, ":event-type"), "SubscribeToShardEvent");
        assert_eq!(text(&m, ":content-type"), Protocol::Json.content_type());
        assert_eq!(&m.payload()[..], b"{\"a\":1}");

        let bytes = exception("ResourceInUseException", Protocol::Cbor, vec![0xa0]).unwrap();
        let m = read_message_from(bytes).unwrap();
        assert_eq!(text(&m, ":message-type"), "exception");
        assert_eq!(text(&m, ":exception-type"), "ResourceInUseException");
        assert_eq!(&m.payload()[..], &[0xa0]);
    }
}
