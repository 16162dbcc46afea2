use std::time::Duration;

use super::{ApiError, Op};

#[test]
fn redacting_cuts_the_secret_out_of_every_message() {
    const KEY: &str = "da2-abcdefghijklmnopqrstuvwxyz";
    let echoed = format!("API key not found: {KEY} ({KEY})");
    let errors = [
        ApiError::Service {
            op: Op::CreateApiKey,
            code: "BadRequestException".into(),
            message: echoed.clone(),
        },
        ApiError::Conflict {
            op: Op::CreateApiKey,
            message: echoed.clone(),
        },
        ApiError::NotFound {
            op: Op::DeleteApiKey,
            message: echoed.clone(),
        },
        ApiError::Throttled {
            op: Op::UpdateApiKey,
            message: echoed,
        },
    ];
    for error in errors {
        let text = error.redacting(KEY).to_string();
        assert!(!text.contains(KEY), "{text}");
        assert_eq!(text.matches("<redacted>").count(), 2, "{text}");
    }
}

#[test]
fn the_rotation_interval_comes_from_days_or_a_rate_but_not_a_cron() {
    assert_eq!(
        super::rotation_interval(Some(30), None),
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(
        super::rotation_interval(Some(30), Some("rate(10 days)")),
        Some(Duration::from_secs(10 * 86_400))
    );
    assert_eq!(
        super::rotation_interval(None, Some("rate(4 hours)")),
        Some(Duration::from_secs(4 * 3_600))
    );
    assert_eq!(
        super::rotation_interval(None, Some("cron(0 8 1 * ? *)")),
        None
    );
    assert_eq!(super::rotation_interval(None, Some("rate(1 week)")), None);
    assert_eq!(super::rotation_interval(None, None), None);
    assert_eq!(super::rotation_interval(Some(-1), None), None);
}
