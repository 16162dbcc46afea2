use super::*;

#[test]
fn expiries_are_on_the_hour_and_inside_appsyncs_bounds() {
    let now = UnixTime::from_secs(1_764_126_123); // 03:02:03 UTC
    let new = new_key_expiry(now, 365 * DAY);
    assert_eq!(new.as_secs() % HOUR, 0);
    assert!(new.as_secs() <= now.as_secs() + 365 * DAY);
    assert!(new.as_secs() > now.as_secs() + 364 * DAY);

    let retired = retired_key_expiry(now, Duration::from_secs(3_600));
    assert_eq!(retired.as_secs() % HOUR, 0);
    assert!(
        retired.as_secs() >= now.as_secs() + DAY,
        "AppSync's minimum"
    );
    assert!(retired.as_secs() < now.as_secs() + DAY + HOUR);

    let long_grace = retired_key_expiry(now, Duration::from_secs(3 * DAY));
    assert!(long_grace.as_secs() >= now.as_secs() + 3 * DAY);
    let on_the_hour = UnixTime::from_secs(1_764_126_000);
    assert_eq!(
        retired_key_expiry(on_the_hour, Duration::ZERO).as_secs(),
        on_the_hour.as_secs() + DAY
    );
}
