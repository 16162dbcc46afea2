//! The settings as the rotator reads them from its environment.
use std::collections::HashMap;
use std::path::PathBuf;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

const STATIC_MINIMAL: [(&str, &str); 2] = [
    ("CLOUDFRONT_DISTRIBUTION_ID", "E123ABC"),
    ("ORIGIN_URL", "https://api.example.com/prod/health?probe=1"),
];

#[test]
fn static_header_drop_in_defaults_match_the_prior_art() {
    let c = config(&STATIC_MINIMAL).unwrap();
    assert_eq!(c.kind(), TargetKind::StaticHeader);
    assert_eq!(c.distributions, ["E123ABC"]);
    assert_eq!(c.header_name, "x-origin-verify");
    assert_eq!(c.secret_key_name, "HTTP_API_KEY");
    assert_eq!(
        c.target,
        TargetSettings::StaticHeader(StaticHeaderSettings { value_length: 32 })
    );
    assert_eq!(c.origin_test.as_ref().unwrap().url.query(), Some("probe=1"));
    assert_eq!(c.origin_test.as_ref().unwrap().method, http::Method::GET);
    assert_eq!(
        c.origin_test.as_ref().unwrap().expected,
        ExpectedStatus::Success
    );
    assert_eq!(
        c.origin_test.as_ref().unwrap().timeout,
        Duration::from_secs(5)
    );
    assert!(!c.wait_for_deployed);
    assert_eq!(c.max_step, Duration::from_secs(60));
    assert!(c.edge().is_none());
}

#[test]
fn signed_mode_is_chosen_by_the_edge_function_and_defaults_assets_to_the_task_root() {
    let mut vars = STATIC_MINIMAL.to_vec();
    vars.extend([
        ("EDGE_FUNCTION_NAME", "edge-signer"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
    ]);
    let c = config(&vars).unwrap();
    assert_eq!(c.kind(), TargetKind::Signed);
    let edge = c.edge().unwrap();
    assert_eq!(edge.assets_dir, PathBuf::from("/var/task/edge-assets"));
    assert_eq!(edge.label, "edgeseal");
    assert_eq!(edge.max_age_secs, 300);
    assert_eq!(edge.keep_versions, 3);
}

#[test]
fn rotation_target_names_the_target_and_wins_over_the_older_rotation_mode() {
    let mut vars = STATIC_MINIMAL.to_vec();
    vars.extend([
        ("EDGE_FUNCTION_NAME", "edge-signer"),
        ("EDGE_ASSETS_DIR", "/opt/assets"),
    ]);
    assert_eq!(config(&vars).unwrap().kind(), TargetKind::Signed);
    vars.push(("ROTATION_MODE", "signed"));
    vars.push(("ROTATION_TARGET", "static-header"));
    assert_eq!(config(&vars).unwrap().kind(), TargetKind::StaticHeader);
    for kind in TargetKind::ALL {
        assert_eq!(TargetKind::from_name(kind.as_str()), Some(kind));
    }
    assert_eq!(TargetKind::from_name("WAF"), None);
}

const WAF: [(&str, &str); 3] = [
    ("WAFACLNAME", "origin-acl"),
    ("WAFACLID", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"),
    ("WAF_RULE_NAME", "StackXOriginVerify"),
];

#[test]
fn a_web_acl_selects_the_waf_target_and_another_target_refuses_it() {
    let mut vars = STATIC_MINIMAL.to_vec();
    vars.extend(WAF);
    let c = config(&vars).unwrap();
    assert_eq!(c.kind(), TargetKind::Waf);
    let TargetSettings::Waf(header, waf) = &c.target else {
        panic!("{:?}", c.target)
    };
    assert_eq!(header.value_length, 32);
    assert_eq!(waf.rule_name, "StackXOriginVerify");
    // The web ACL set but a target that would not update it: refused, named.
    vars.push(("ROTATION_TARGET", "static-header"));
    let err = config(&vars).unwrap_err();
    assert!(err.to_string().starts_with("WAFACLID is invalid"), "{err}");
    // ROTATION_TARGET=waf without the web ACL: the missing variable is named.
    let mut bare = STATIC_MINIMAL.to_vec();
    bare.push(("ROTATION_TARGET", "waf"));
    assert_eq!(
        config(&bare).unwrap_err(),
        ConfigError::Missing("WAFACLNAME")
    );
}

#[test]
fn the_waf_targets_limits_name_the_variable_to_change() {
    let cases = [
        ("SECRET_KEY_LENGTH", "201"),
        (
            "HEADER_NAME",
            "x-a-very-long-header-name-that-waf-will-not-inspect-because-it-is-over-64",
        ),
        ("MAX_STEP_SECS", "30"),
    ];
    for (var, value) in cases {
        let mut vars = STATIC_MINIMAL.to_vec();
        vars.extend(WAF);
        vars.push((var, value));
        let err = config(&vars).unwrap_err();
        let named = if var == "MAX_STEP_SECS" {
            "WAF_SETTLE_SECS"
        } else {
            var
        };
        assert!(err.to_string().starts_with(named), "{var}={value}: {err}");
    }
}

#[test]
fn each_missing_required_variable_is_named() {
    assert_eq!(
        config(&[("ORIGIN_URL", "https://x.example/")]).unwrap_err(),
        ConfigError::Missing("CLOUDFRONT_DISTRIBUTION_ID")
    );
    assert_eq!(
        config(&[("CLOUDFRONT_DISTRIBUTION_ID", "E1")]).unwrap_err(),
        ConfigError::Missing("ORIGIN_URL")
    );
    let mut vars = STATIC_MINIMAL.to_vec();
    vars.push(("ROTATION_MODE", "signed"));
    assert_eq!(
        config(&vars).unwrap_err(),
        ConfigError::Missing("EDGE_FUNCTION_NAME")
    );
    vars.push(("EDGE_FUNCTION_NAME", "f"));
    let err = config(&vars).unwrap_err();
    assert!(err.to_string().contains("EDGE_ASSETS_DIR"), "{err}");
    vars.push(("EDGE_ASSETS_DIR", "/opt/assets"));
    vars.retain(|(k, _)| *k != "EDGE_FUNCTION_NAME");
    vars.push((
        "EDGE_FUNCTION_NAME",
        "arn:aws:lambda:us-east-1:123456789012:function:edge:7",
    ));
    let err = config(&vars).unwrap_err();
    assert!(
        err.to_string().starts_with("EDGE_FUNCTION_NAME is invalid"),
        "{err}"
    );
    vars.pop();
    vars.push((
        "EDGE_FUNCTION_NAME",
        "arn:aws:lambda:us-east-1:123456789012:function:edge",
    ));
    assert_eq!(
        config(&vars).unwrap().edge().unwrap().function,
        "arn:aws:lambda:us-east-1:123456789012:function:edge"
    );
}

#[test]
fn malformed_values_name_their_variable() {
    let cases: [(&str, &str); 14] = [
        ("MAX_STEP_SECS", "901"),
        ("ROTATION_MODE", "rotate"),
        ("ROTATION_TARGET", "rotate"),
        ("ORIGIN_URL", "not a url"),
        ("ORIGIN_URL", "ftp://x.example/"),
        ("ORIGIN_TEST_PATH", "no-slash"),
        ("ORIGIN_TEST_METHOD", "GE T"),
        ("ORIGIN_TEST_EXPECTED_STATUS", "700"),
        ("ORIGIN_TEST_TIMEOUT_MS", "soon"),
        ("SECRET_KEY_LENGTH", "8"),
        ("HEADER_NAME", "bad header"),
        ("WAIT_FOR_DEPLOYED", "maybe"),
        ("CLOUDFRONT_DISTRIBUTION_ID", "E1,E 2"),
        ("DISTRIBUTION_UPDATE_ATTEMPTS", "0"),
    ];
    for (var, value) in cases {
        let mut vars: Vec<(&str, &str)> = STATIC_MINIMAL
            .iter()
            .copied()
            .filter(|(k, _)| *k != var)
            .collect();
        vars.push((var, value));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().starts_with(var), "{var}={value}: {err}");
    }
}

#[test]
fn test_path_replaces_path_and_query_and_several_distributions_are_listed() {
    let c = config(&[
        ("CLOUDFRONT_DISTRIBUTION_ID", "E1, E2 ,"),
        ("ORIGIN_URL", "https://api.example.com/prod"),
        ("ORIGIN_TEST_PATH", "/prod/ping?b=2&a=1"),
        ("ORIGIN_TEST_METHOD", "HEAD"),
        ("ORIGIN_TEST_EXPECTED_STATUS", "204"),
    ])
    .unwrap();
    assert_eq!(c.distributions, ["E1", "E2"]);
    assert_eq!(
        c.origin_test.as_ref().unwrap().url.to_string(),
        "https://api.example.com/prod/ping?b=2&a=1"
    );
    assert_eq!(c.origin_test.as_ref().unwrap().method, http::Method::HEAD);
    assert!(c.origin_test.as_ref().unwrap().expected.accepts(204));
    assert!(!c.origin_test.as_ref().unwrap().expected.accepts(200));
}

#[test]
fn the_appsync_target_needs_its_api_no_origin_and_optionally_distributions() {
    let c = config(&[
        ("ROTATION_TARGET", "appsync-api-key"),
        ("AppSyncApiId", "abcdefghijklmnopqrstuvwxyz"),
    ])
    .unwrap();
    assert_eq!(c.kind(), TargetKind::AppSyncApiKey);
    assert_eq!(c.appsync().unwrap().api_id, "abcdefghijklmnopqrstuvwxyz");
    assert!(c.distributions.is_empty(), "AppSync called directly");
    assert_eq!(c.origin_test, None);
    assert_eq!(c.secret_key_name, "APIKEY", "the AWS blog's field");
    assert!(c.edge().is_none());

    assert_eq!(
        config(&[("ROTATION_TARGET", "appsync-api-key")]).unwrap_err(),
        ConfigError::Missing("APPSYNC_API_ID")
    );
    let err = config(&[
        ("ROTATION_TARGET", "appsync-api-key"),
        ("APPSYNC_API_ID", "abc"),
        ("ORIGIN_URL", "https://example.com/"),
    ])
    .unwrap_err();
    assert!(err.to_string().starts_with("ORIGIN_URL"), "{err}");

    // Behind CloudFront: the distributions send the key in x-api-key, the one header
    // AppSync reads; any other HEADER_NAME is refused.
    let behind = config(&[
        ("ROTATION_TARGET", "appsync-api-key"),
        ("APPSYNC_API_ID", "abc"),
        ("CLOUDFRONT_DISTRIBUTION_ID", "E123ABC,E456DEF"),
    ])
    .unwrap();
    assert_eq!(behind.distributions, ["E123ABC", "E456DEF"]);
    assert_eq!(behind.header_name, "x-api-key");
    let same = [
        ("ROTATION_TARGET", "appsync-api-key"),
        ("APPSYNC_API_ID", "abc"),
        ("CLOUDFRONT_DISTRIBUTION_ID", "E123ABC"),
        ("HEADER_NAME", "X-Api-Key"),
    ];
    assert_eq!(config(&same).unwrap().header_name, "x-api-key");
    let err = config(&[
        ("ROTATION_TARGET", "appsync-api-key"),
        ("APPSYNC_API_ID", "abc"),
        ("CLOUDFRONT_DISTRIBUTION_ID", "E123ABC"),
        ("HEADER_NAME", "x-origin-verify"),
    ])
    .unwrap_err();
    assert!(err.to_string().starts_with("HEADER_NAME"), "{err}");
    let err = config(&[
        ("ROTATION_TARGET", "appsync-api-key"),
        ("APPSYNC_API_ID", "abc"),
        ("CLOUDFRONT_DISTRIBUTION_ID", "E1 23"),
    ])
    .unwrap_err();
    assert!(
        err.to_string().starts_with("CLOUDFRONT_DISTRIBUTION_ID"),
        "{err}"
    );
    let err = config(&[("ROTATION_TARGET", "appsync")]).unwrap_err();
    assert!(err.to_string().contains("appsync-api-key"), "{err}");
}

#[test]
fn the_api_region_is_read_for_the_api_key_targets_only() {
    let appsync = [
        ("ROTATION_TARGET", "appsync-api-key"),
        ("APPSYNC_API_ID", "abc"),
    ];
    assert_eq!(
        config(&appsync).unwrap().api_region,
        None,
        "default: own region"
    );
    let mut there = appsync.to_vec();
    there.push(("API_REGION", "eu-west-1"));
    assert_eq!(
        config(&there).unwrap().api_region.as_deref(),
        Some("eu-west-1")
    );
    let mut bad = appsync.to_vec();
    bad.push(("API_REGION", "EU WEST"));
    let err = config(&bad).unwrap_err();
    assert!(err.to_string().starts_with("API_REGION"), "{err}");
    let mut signed = STATIC_MINIMAL.to_vec();
    signed.push(("API_REGION", "eu-west-1"));
    let err = config(&signed).unwrap_err();
    assert!(err.to_string().starts_with("API_REGION"), "{err}");
}
