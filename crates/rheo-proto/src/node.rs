//! The generic value tree exchanged between the wire layer and the operation handlers.
//!
//! A decoded request is a [`Node::Map`] whose entries follow the model's member order and whose leaves
//! already carry the model's types (blobs are bytes, timestamps are epoch milliseconds). Responses are
//! built as the same kind of tree and encoded by [`crate::encode_response`].

use bytes::Bytes;

/// A protocol-neutral value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Absent / null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (integer and long shapes).
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string.
    Str(String),
    /// Binary data (already base64-decoded).
    Bytes(Bytes),
    /// A point in time, epoch milliseconds.
    Timestamp(i64),
    /// A list.
    List(Vec<Node>),
    /// A structure or a map, entries in order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// An empty map, to be filled with [`Node::with`].
    pub fn map() -> Node {
        Node::Map(Vec::new())
    }

    /// A string node.
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    /// A bytes node.
    pub fn bytes(b: impl Into<Bytes>) -> Node {
        Node::Bytes(b.into())
    }

    /// Builder: add (or replace) `key` in a map. On a non-map node the call turns it into a map, since a
    /// builder chain that starts from anything else is a programming error best made visible in output.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Node>) -> Node {
        self.insert(key, value);
        self
    }

    /// Builder: add `key` only when `value` is `Some`; AWS omits absent members rather than sending null.
    pub fn with_opt<V: Into<Node>>(self, key: impl Into<String>, value: Option<V>) -> Node {
        match value {
            Some(v) => self.with(key, v),
            None => self,
        }
    }

    /// Insert or replace `key` in a map node (a non-map node becomes an empty map first).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Node>) {
        if !matches!(self, Node::Map(_)) {
            *self = Node::map();
        }
        if let Node::Map(entries) = self {
            let key = key.into();
            let value = value.into();
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => entries.push((key, value)),
            }
        }
    }

    /// Member `key` of a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Remove and return member `key` of a map node (lets handlers take blobs without cloning).
    pub fn take(&mut self, key: &str) -> Option<Node> {
        match self {
            Node::Map(entries) => {
                let idx = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.remove(idx).1)
            }
            _ => None,
        }
    }

    /// The string, if this is a string node.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer node.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Node::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as f64, for float and integer nodes.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Float(f) => Some(*f),
            Node::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean node.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The bytes, if this is a bytes node.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Node::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is a list node.
    pub fn as_list(&self) -> Option<&[Node]> {
        match self {
            Node::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is a map node.
    pub fn as_map(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Epoch milliseconds, if this is a timestamp node.
    pub fn as_timestamp_ms(&self) -> Option<i64> {
        match self {
            Node::Timestamp(t) => Some(*t),
            _ => None,
        }
    }

    /// Whether this is [`Node::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }
}

impl From<&str> for Node {
    fn from(s: &str) -> Node {
        Node::Str(s.to_string())
    }
}
impl From<String> for Node {
    fn from(s: String) -> Node {
        Node::Str(s)
    }
}
impl From<bool> for Node {
    fn from(b: bool) -> Node {
        Node::Bool(b)
    }
}
impl From<i64> for Node {
    fn from(i: i64) -> Node {
        Node::Int(i)
    }
}
impl From<i32> for Node {
    fn from(i: i32) -> Node {
        Node::Int(i64::from(i))
    }
}
impl From<u32> for Node {
    fn from(i: u32) -> Node {
        Node::Int(i64::from(i))
    }
}
impl From<f64> for Node {
    fn from(f: f64) -> Node {
        Node::Float(f)
    }
}
impl From<Bytes> for Node {
    fn from(b: Bytes) -> Node {
        Node::Bytes(b)
    }
}
impl From<Vec<Node>> for Node {
    fn from(l: Vec<Node>) -> Node {
        Node::List(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_and_accessors() {
        let n = Node::map()
            .with("StreamName", "s")
            .with("ShardCount", 2i64)
            .with("Flag", true)
            .with("Data", Bytes::from_static(b"xy"))
            .with("When", Node::Timestamp(5))
            .with("L", vec![Node::from("a")])
            .with_opt("Absent", None::<i64>)
            .with_opt("Present", Some(1.5f64));
        assert_eq!(n.get("StreamName").and_then(Node::as_str), Some("s"));
        assert_eq!(n.get("ShardCount").and_then(Node::as_i64), Some(2));
        assert_eq!(n.get("Flag").and_then(Node::as_bool), Some(true));
        assert_eq!(
            n.get("Data").and_then(Node::as_bytes).map(|b| &b[..]),
            Some(&b"xy"[..])
        );
        assert_eq!(n.get("When").and_then(Node::as_timestamp_ms), Some(5));
        assert_eq!(
            n.get("L").and_then(Node::as_list).map(<[Node]>::len),
            Some(1)
        );
        assert!(n.get("Absent").is_none());
        assert_eq!(n.get("Present").and_then(Node::as_f64), Some(1.5));
        assert_eq!(n.get("StreamName").and_then(Node::as_i64), None);
        assert!(Node::Null.is_null());
    }

    #[test]
    fn with_replaces_existing_key_and_take_removes() {
        let mut n = Node::map().with("a", 1i64).with("a", 2i64);
        assert_eq!(n.as_map().map(<[_]>::len), Some(1));
        assert_eq!(n.take("a"), Some(Node::Int(2)));
        assert_eq!(n.take("a"), None);
        assert_eq!(
            Node::Null.with("k", "v").get("k").and_then(Node::as_str),
            Some("v")
        );
    }
}
