//! The SDK over HTTP/2 with prior knowledge (h2c): the server speaks h2c on the same port.
//!
//! The SDK's own client offers no switch for HTTP/2-only, so this plugs a hyper-util client built
//! with `http2_only(true)` into the SDK through its `HttpConnector` trait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

use crate::harness::Server;
use crate::util::*;

/// Sends every request over one h2c connection and counts the answers that came back as HTTP/2.
#[derive(Debug, Clone)]
struct H2cConnector {
    client: HyperClient<TcpConnector, SdkBody>,
    h2_answers: Arc<AtomicUsize>,
}

impl HttpConnector for H2cConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let counter = self.h2_answers.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let response = client
                .request(request)
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            if response.version() == http::Version::HTTP_2 {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            Response::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// An SDK client for `server` that speaks only HTTP/2 (h2c), and the count of its answers that
/// came back over HTTP/2.
pub(crate) fn h2c_client(server: &Server) -> (aws_sdk_kinesis::Client, Arc<AtomicUsize>) {
    let h2_answers = Arc::new(AtomicUsize::new(0));
    let connector = H2cConnector {
        client: HyperClient::builder(TokioExecutor::new())
            .http2_only(true)
            .build(TcpConnector::new()),
        h2_answers: h2_answers.clone(),
    };
    let shared = SharedHttpConnector::new(connector);
    let client = server.client_with(http_client_fn(move |_, _| shared.clone()));
    (client, h2_answers)
}

#[tokio::test]
async fn sdk_over_h2c_prior_knowledge() {
    let server = Server::start();
    let (client, h2_answers) = h2c_client(&server);

    let before = h2_answers.load(Ordering::SeqCst);
    create_active(&client, "over-h2", 2).await;
    let put = client
        .put_record()
        .stream_name("over-h2")
        .partition_key("h2c")
        .data(Blob::new(b"framed".to_vec()))
        .send()
        .await
        .unwrap();
    let shards = list_all_shards(&client, "over-h2").await;
    assert_eq!(put.shard_id(), owning_shard(&shards, md5_hash_key("h2c")));
    let it = client
        .get_shard_iterator()
        .stream_name("over-h2")
        .shard_id(put.shard_id())
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(put.sequence_number())
        .send()
        .await
        .unwrap();
    let page = client
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
    assert_eq!(page.records()[0].data().as_ref(), b"framed");
    assert_eq!(page.records()[0].partition_key(), Some("h2c"));

    // Errors travel over h2 too.
    let (err, _) = service_error(client.describe_stream().stream_name("absent").send().await);
    assert!(err.is_resource_not_found_exception());

    // create + at least one describe + put + list + iterator + get + error = 7 or more, all HTTP/2.
    let answered = h2_answers.load(Ordering::SeqCst) - before;
    assert!(
        answered >= 7,
        "only {answered} answers came back over HTTP/2"
    );
}
