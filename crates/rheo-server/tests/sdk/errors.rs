//! Typed SDK errors and exact AWS messages: ResourceNotFound, ResourceInUse, InvalidArgument, and
//! ValidationException (typed where the model lists it, otherwise checked by its raw error code).

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::harness::{Server, ACCOUNT};
use crate::util::*;

#[tokio::test]
async fn resource_not_found_and_in_use() {
    let server = Server::start();
    let client = server.client();

    let (err, status) = service_error(client.describe_stream().stream_name("ghost").send().await);
    assert_eq!(status, 400);
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!("Stream ghost under account {ACCOUNT} not found."),
    );
    let (err, _) = service_error(
        client
            .describe_stream_summary()
            .stream_name("ghost")
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(format!("Stream ghost under account {ACCOUNT} not found.").as_str())
    );
    let (err, _) = service_error(
        client
            .put_record()
            .stream_name("ghost")
            .partition_key("k")
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(format!("Stream ghost under account {ACCOUNT} not found.").as_str())
    );
    let (err, _) = service_error(
        client
            .put_records()
            .stream_name("ghost")
            .records(
                PutRecordsRequestEntry::builder()
                    .partition_key("k")
                    .data(Blob::new(b"x".to_vec()))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let (err, _) = service_error(client.list_shards().stream_name("ghost").send().await);
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(format!("Stream ghost under account {ACCOUNT} not found.").as_str())
    );
    // GetShardIterator on an unknown stream names the shard, without a trailing period.
    let (err, _) = service_error(
        client
            .get_shard_iterator()
            .stream_name("ghost")
            .shard_id(shard_id(0))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!(
            "Shard {} in stream ghost under account {ACCOUNT} does not exist",
            shard_id(0)
        ),
    );
    // A shard ID that does not resolve is reported as sent, before the stream is looked up.
    let (err, _) = service_error(
        client
            .get_shard_iterator()
            .stream_name("ghost")
            .shard_id("ABKLFD8")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!("Could not find shard ABKLFD8 in stream ghost under account {ACCOUNT}."),
    );

    create_active(&client, "taken", 1).await;
    let (err, status) = service_error(
        client
            .create_stream()
            .stream_name("taken")
            .shard_count(1)
            .send()
            .await,
    );
    assert_eq!(status, 400);
    assert!(err.is_resource_in_use_exception(), "{err:?}");
    assert_eq!(err.code(), Some("ResourceInUseException"));
    // Only the "already exists" part of AWS's wording is confirmed.
    let msg = err.message().unwrap_or_default();
    assert!(
        msg.contains("taken") && msg.contains("already exists"),
        "unexpected message {msg:?}"
    );
}

#[tokio::test]
async fn invalid_argument_messages() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "args", 1).await;
    let prefix = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and \
                  StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber.";

    let seq = client
        .put_record()
        .stream_name("args")
        .partition_key("k")
        .data(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap()
        .sequence_number()
        .to_string();

    for kind in [
        ShardIteratorType::AtSequenceNumber,
        ShardIteratorType::AfterSequenceNumber,
    ] {
        let (err, _) = service_error(
            client
                .get_shard_iterator()
                .stream_name("args")
                .shard_id(shard_id(0))
                .shard_iterator_type(kind.clone())
                .send()
                .await,
        );
        assert!(err.is_invalid_argument_exception(), "{err:?}");
        assert_code_message(
            &err,
            "InvalidArgumentException",
            &format!(
                "{prefix} Request specified {} and no StartingSequenceNumber.",
                kind.as_str()
            ),
        );
    }
    for kind in [ShardIteratorType::TrimHorizon, ShardIteratorType::Latest] {
        let (err, _) = service_error(
            client
                .get_shard_iterator()
                .stream_name("args")
                .shard_id(shard_id(0))
                .shard_iterator_type(kind.clone())
                .starting_sequence_number(&seq)
                .send()
                .await,
        );
        assert!(err.is_invalid_argument_exception(), "{err:?}");
        assert_code_message(
            &err,
            "InvalidArgumentException",
            &format!(
                "{prefix} Request specified {} and also a StartingSequenceNumber.",
                kind.as_str()
            ),
        );
    }
    let (err, _) = service_error(
        client
            .get_shard_iterator()
            .stream_name("args")
            .shard_id(shard_id(0))
            .shard_iterator_type(ShardIteratorType::AtTimestamp)
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. \
         Current request has no timestamp parameter.",
    );

    let (err, _) = service_error(
        client
            .get_records()
            .shard_iterator("bm90IGFuIGl0ZXJhdG9y")
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(&err, "InvalidArgumentException", "Invalid ShardIterator.");

    let too_big = "340282366920938463463374607431768211456"; // 2^128
    let (err, _) = service_error(
        client
            .put_record()
            .stream_name("args")
            .partition_key("k")
            .explicit_hash_key(too_big)
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        &format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {too_big}"
        ),
    );
    let (err, _) = service_error(
        client
            .put_records()
            .stream_name("args")
            .records(
                PutRecordsRequestEntry::builder()
                    .partition_key("ok")
                    .data(Blob::new(b"x".to_vec()))
                    .build()
                    .unwrap(),
            )
            .records(
                PutRecordsRequestEntry::builder()
                    .partition_key("bad")
                    .explicit_hash_key(too_big)
                    .data(Blob::new(b"x".to_vec()))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {too_big}"
        )
        .as_str())
    );
    // The rejected batch wrote nothing: the shard still holds only the first record.
    let it = client
        .get_shard_iterator()
        .stream_name("args")
        .shard_id(shard_id(0))
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
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
    assert_eq!(page.records()[0].sequence_number(), seq);
}

#[tokio::test]
async fn validation_exception_by_raw_code() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "valid", 1).await;
    let it = client
        .get_shard_iterator()
        .stream_name("valid")
        .shard_id(shard_id(0))
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_string();

    let (err, status) = service_error(
        client
            .get_records()
            .shard_iterator(&it)
            .limit(0)
            .send()
            .await,
    );
    assert_eq!(status, 400);
    // GetRecords does not list ValidationException in the model, so the SDK surfaces it as an
    // unhandled error recognisable only by its code.
    assert!(!err.is_invalid_argument_exception());
    assert_code_message(
        &err,
        "ValidationException",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
         Member must have value greater than or equal to 1",
    );
    let (err, _) = service_error(
        client
            .get_records()
            .shard_iterator(&it)
            .limit(100000)
            .send()
            .await,
    );
    assert_code_message(
        &err,
        "ValidationException",
        "1 validation error detected: Value '100000' at 'limit' failed to satisfy constraint: \
         Member must have value less than or equal to 10000",
    );
    let (err, _) = service_error(
        client
            .describe_stream()
            .stream_name("valid")
            .limit(100000)
            .send()
            .await,
    );
    assert_code_message(
        &err,
        "ValidationException",
        "1 validation error detected: Value '100000' at 'limit' failed to satisfy constraint: \
         Member must have value less than or equal to 10000",
    );
    let (err, _) = service_error(
        client
            .create_stream()
            .stream_name("bad name!")
            .shard_count(1)
            .send()
            .await,
    );
    // CreateStream does model it, so here it is typed.
    assert!(err.is_validation_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    );
    // None of the rejected calls created anything.
    let listed = client.list_streams().send().await.unwrap();
    assert_eq!(listed.stream_names(), ["valid"]);
}
