//! A service model compiled into the binary (the botocore JSON under `models/`), parsed on
//! first use, and the routing of `X-Amz-Target` against it: what every service binding needs
//! before it knows anything of its own operations.

use std::sync::OnceLock;

use crate::{Model, WireError};

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
    fn a_model_that_does_not_parse_knows_no_target() {
        let m = VendoredModel::new("Broken", "{");
        assert!(m.model().target_prefix.is_empty());
        assert!(matches!(
            m.resolve(Some(".Op"), from_name),
            Err(WireError::UnknownOperation)
        ));
    }
}
