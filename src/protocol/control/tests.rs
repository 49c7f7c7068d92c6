//! Unit tests of control messages: every command round-trips; forged,
//! foreign and unknown ones are refused.

use super::*;

fn claims(command: ControlCommand) -> ControlClaims {
    ControlClaims {
        hub: "home".into(),
        member: "alex".into(),
        command,
        issued_at: 1_800_000_000_000,
    }
}

#[test]
fn every_command_round_trips_and_verifies() {
    let key = SigningKey::generate();
    let public = key.public_key();
    for command in [
        ControlCommand::Pause { until: None },
        ControlCommand::Pause {
            until: Some(1_800_100_000),
        },
        ControlCommand::Resume,
        ControlCommand::Guests {
            factor: 1.5,
            until: 1_800_200_000,
        },
        ControlCommand::Cancel {
            intent: "00112233445566778899aabbccddeeff".into(),
        },
        ControlCommand::Forget(ForgetScope::Item("oat-milk".into())),
        ControlCommand::Forget(ForgetScope::Household),
    ] {
        let bytes = sign_control(&key, &claims(command.clone()));
        let opened = open_control(&bytes, "home", |kid| {
            (kid == "alex").then_some((public, true))
        })
        .expect("verifies");
        assert_eq!(opened, claims(command));
    }
}

#[test]
fn forged_foreign_and_unknown_messages_are_refused() {
    let key = SigningKey::generate();
    let other = SigningKey::generate();
    let public = key.public_key();
    let lookup = |kid: &str| (kid == "alex").then_some((public, true));
    let forged = sign_control(&other, &claims(ControlCommand::Resume));
    assert!(matches!(
        open_control(&forged, "home", lookup),
        Err(ReplyError::BadSignature(_))
    ));
    let genuine = sign_control(&key, &claims(ControlCommand::Resume));
    assert!(matches!(
        open_control(&genuine, "cabin", lookup),
        Err(ReplyError::BadSignature(_))
    ));
    let mut stranger = claims(ControlCommand::Resume);
    stranger.member = "eve".into();
    assert!(matches!(
        open_control(&sign_control(&key, &stranger), "home", lookup),
        Err(ReplyError::UnknownMember(_))
    ));
    assert!(open_control(b"pause", "home", lookup).is_err());
    assert!(matches!(
        open_control(&vec![0u8; 5000], "home", lookup),
        Err(ReplyError::TooLarge(_))
    ));
}
