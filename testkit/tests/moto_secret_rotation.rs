//! moto, as `scripts/moto` starts it (`testkit/moto/server.py`), answers `GetSecretValue`
//! without a stage with the AWSCURRENT version, before, during and after a rotation
//! started by `RotateSecret` and finished by the rotation function moving AWSCURRENT.
//! AWS: "If you don't specify either a VersionStage or VersionId, then Secrets Manager
//! defaults to AWSCURRENT" (GetSecretValue API reference).
//! Seen failing before `_current_follows_the_label`: after finishSecret moved AWSCURRENT,
//! a read without a stage still answered the old version (now AWSPREVIOUS).
#![allow(clippy::unwrap_used, clippy::expect_used)]

async fn rotation_function(sdk: &aws_config::SdkConfig) -> String {
    let iam = aws_sdk_iam::Client::new(sdk);
    let role = iam
        .create_role()
        .role_name(edgeseal_testkit::unique_name("rotation-role"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    aws_sdk_lambda::Client::new(sdk)
        .create_function()
        .function_name(edgeseal_testkit::unique_name("rotation"))
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(role.role().unwrap().arn())
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(b"rotator".to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .function_arn()
        .unwrap()
        .to_owned()
}

async fn unstaged(sm: &aws_sdk_secretsmanager::Client, id: &str) -> (String, String) {
    let got = sm.get_secret_value().secret_id(id).send().await.unwrap();
    (
        got.version_id().unwrap().to_owned(),
        got.secret_string().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_without_a_stage_follows_awscurrent_through_a_rotation() {
    let sdk = edgeseal_testkit::sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let function = rotation_function(&sdk).await;
    let name = edgeseal_testkit::unique_name("unstaged");
    let first = sm
        .create_secret()
        .name(&name)
        .secret_string("first")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();

    let token = sm
        .rotate_secret()
        .secret_id(&name)
        .rotation_lambda_arn(&function)
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    assert_eq!(unstaged(&sm, &name).await, (first.clone(), "first".into()));

    // createSecret, then finishSecret, as a rotation function does.
    sm.put_secret_value()
        .secret_id(&name)
        .client_request_token(&token)
        .secret_string("second")
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    assert_eq!(unstaged(&sm, &name).await, (first.clone(), "first".into()));
    sm.update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&token)
        .remove_from_version_id(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(
        unstaged(&sm, &name).await,
        (token.clone(), "second".into()),
        "after finishSecret a read without a stage answers the new AWSCURRENT"
    );

    // The next rotation starts from there and changes nothing a reader sees.
    sm.rotate_secret().secret_id(&name).send().await.unwrap();
    assert_eq!(unstaged(&sm, &name).await, (token, "second".into()));
}
