//! A service model compiled into the binary (the botocore JSON under `models/`), parsed on
//! first use, and the routing of `X-Amz-Target` against it: what every service binding needs
//! before it knows anything of its own operations.

use std::sync::OnceLock;

use crate::{Model, Operation, WireError};

pub struct VendoredModel {
    /// The service as logs name it (`Kinesis`).
    service: &'static str,
    json: &'static str,
    parsed: OnceLock<Model>,
}

impl VendoredModel {
    pub const fn new(service: &'static str, json: &'static str) -> Self {
        VendoredModel {
            service,
            json,
            parsed: OnceLock::new(),
        }
    }

    /// The parsed model. The file is compiled in and each binding's unit test parses it, so a
    /// failure is unreachable in a tested build; should it happen, an empty model makes every
    /// target unknown instead of aborting the server.
    pub fn model(&self) -> &Model {
        self.parsed
            .get_or_init(|| match Model::from_json(self.json) {
                Ok(model) => model,
                Err(err) => {
                    tracing::error!(service = self.service, error = %err, "vendored model failed to parse");
                    Model::default()
                }
            })
    }

    /// Resolves `X-Amz-Target` (`<targetPrefix>.<Operation>`) to an operation id with
    /// `from_name`. A missing header, another service's prefix or an operation the model does
    /// not have all give `UnknownOperationException` (400, no message), as AWS does; matching
    /// is case-sensitive.
    pub fn resolve<Op>(
        &self,
        target: Option<&str>,
        from_name: impl FnOnce(&str) -> Option<Op>,
    ) -> Result<Op, WireError> {
        let (service, name) = target
            .and_then(|t| t.trim().split_once('.'))
            .ok_or(WireError::UnknownOperation)?;
        let prefix = &self.model().target_prefix;
        if service != prefix || prefix.is_empty() {
            return Err(WireError::UnknownOperation);
        }
        from_name(name).ok_or(WireError::UnknownOperation)
    }
}

/// Per operation id (a binding's generated enum, in order), the model's definition and whether
/// its answer has no members (no output shape, or one with none): AWS answers those with an
/// empty body (`Content-Length: 0`), not `{}`. Built once, so a request resolved to an id
/// never looks its operation up by name.
pub struct OperationIndex {
    shapes: Vec<Option<&'static Operation>>,
    empty_output: Vec<bool>,
}

impl OperationIndex {
    /// The index of `names` (the binding's `Operation::ALL`, by name) in `model`.
    pub fn new(model: &'static Model, names: impl IntoIterator<Item = &'static str>) -> Self {
        let shapes: Vec<Option<&'static Operation>> =
            names.into_iter().map(|n| model.operation(n)).collect();
        let empty_output = shapes
            .iter()
            .map(|op| {
                op.and_then(|o| o.output.as_deref())
                    .and_then(|name| model.shape(name))
                    .is_none_or(|shape| shape.members().is_empty())
            })
            .collect();
        OperationIndex {
            shapes,
            empty_output,
        }
    }

    /// The model's definition of operation `id`; `None` only if the generated ids and the
    /// model disagree, which each binding's `tests/operations.rs` rules out.
    pub fn shape(&self, id: usize) -> Option<&'static Operation> {
        self.shapes.get(id).copied().flatten()
    }

    /// Whether operation `id`'s success body is empty.
    pub fn has_empty_output(&self, id: usize) -> bool {
        self.empty_output.get(id).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"{"metadata":{"targetPrefix":"Svc_1","signingName":"svc",
        "protocol":"json","jsonVersion":"1.1"},"operations":{},"shapes":{}}"#;

    fn from_name(n: &str) -> Option<u8> {
        (n == "Op").then_some(7)
    }

    #[test]
    fn targets_resolve_only_under_the_model_s_prefix() {
        let m = VendoredModel::new("Svc", TINY);
        assert_eq!(m.resolve(Some("Svc_1.Op"), from_name).ok(), Some(7));
        assert_eq!(m.resolve(Some(" Svc_1.Op "), from_name).ok(), Some(7));
        for bad in [
            None,
            Some("Svc_1.op"),
            Some("Svc_2.Op"),
            Some("Op"),
            Some(""),
        ] {
            assert!(matches!(
                m.resolve(bad, from_name),
                Err(WireError::UnknownOperation)
            ));
        }
    }

    #[test]
    fn the_index_knows_each_operation_and_which_answer_nothing() {
        static M: VendoredModel = VendoredModel::new(
            "Svc",
            r#"{"metadata":{"targetPrefix":"Svc_1","protocol":"json"},
            "operations":{"A":{"name":"A","input":{"shape":"In"},"output":{"shape":"Out"}},
                          "B":{"name":"B","input":{"shape":"In"}}},
            "shapes":{"In":{"type":"structure","members":{}},
                      "Out":{"type":"structure","members":{"X":{"shape":"S"}}},
                      "S":{"type":"string"}}}"#,
        );
        let index = OperationIndex::new(M.model(), ["A", "B", "Missing"]);
        assert_eq!(index.shape(0).map(|o| o.name.as_str()), Some("A"));
        assert!(!index.has_empty_output(0));
        assert!(index.has_empty_output(1));
        assert!(index.shape(2).is_none() && index.shape(9).is_none());
    }

    #[test]
    fn a_model_that_does_not_parse_knows_no_target() {
        let m = VendoredModel::new("Broken", "{");
        assert!(m.model().target_prefix.is_empty());
        assert!(matches!(
            m.resolve(Some(".Op"), from_name),
            Err(WireError::UnknownOperation)
        ));
    }
}
