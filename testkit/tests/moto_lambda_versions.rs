//! moto, as `scripts/moto` starts it (`testkit/moto/server.py`), numbers Lambda versions
//! as AWS does: never reusing a number, whatever was deleted (DataBiosphere/azul#6259).
//! Against the bare `moto_server` 5.2.6 this fails: the fourth publish answers "3".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeseal_rotator::EdgeFunctionApi;
use edgeseal_rotator::SdkLambda;

async fn function_on_moto(sdk: &aws_config::SdkConfig) -> String {
    let iam = aws_sdk_iam::Client::new(sdk);
    let role = iam
        .create_role()
        .role_name(edgeseal_testkit::unique_name("versions-role"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let name = edgeseal_testkit::unique_name("versions");
    aws_sdk_lambda::Client::new(sdk)
        .create_function()
        .function_name(&name)
        .runtime(aws_sdk_lambda::types::Runtime::Nodejs22x)
        .role(role.role().unwrap().arn())
        .handler("index.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(b"code 0".to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_number_is_never_reused_after_a_delete() {
    let sdk = edgeseal_testkit::sdk_config().await;
    let name = function_on_moto(&sdk).await;
    let lambda = SdkLambda::new(&sdk);

    let mut published = Vec::new();
    for n in 1..=3 {
        let sha = lambda
            .update_code(&name, format!("code {n}").into_bytes())
            .await
            .unwrap();
        published.push(lambda.publish_version(&name, "", &sha).await.unwrap());
    }
    let numbers: Vec<&str> = published.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(numbers, ["1", "2", "3"]);

    lambda.delete_version(&name, "1").await.unwrap();
    let sha = lambda.update_code(&name, b"code 4".to_vec()).await.unwrap();
    let fourth = lambda.publish_version(&name, "", &sha).await.unwrap();
    assert_eq!(
        fourth.version, "4",
        "a deleted version's number is not given again"
    );

    // Every number resolves to the code it was published with, and is listed once.
    let listed: Vec<String> = lambda
        .list_versions(&name)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, ["2", "3", "4"]);
    // FunctionName may be the function's ARN (ListVersionsByFunction API reference).
    let arn = fourth.arn.rsplit_once(':').unwrap().0;
    let by_arn: Vec<String> = lambda
        .list_versions(arn)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(by_arn, listed, "listed by ARN as by name");
    for version in published.iter().skip(1).chain([&fourth]) {
        assert_eq!(
            lambda
                .version_code_sha256(&name, &version.version)
                .await
                .unwrap(),
            version.code_sha256,
            "version {} runs the code it was published with",
            version.version
        );
    }
}
