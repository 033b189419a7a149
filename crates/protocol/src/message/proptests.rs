//! Properties of the request decoder over arbitrary input: it never panics, every failure is
//! answerable (errno 1 or 3, a reply that is JSON), and what circusctl encodes decodes back.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;

/// JSON values a client may put in `properties` or `id`, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Checks that a decode failure can be answered.
fn answerable(err: &DecodeError) -> Result<(), TestCaseError> {
    prop_assert!(matches!(err.errno.code(), 1 | 3), "errno {:?}", err.errno);
    let reply: Value = serde_json::from_slice(&err.reply().encode()).expect("the error reply is JSON");
    prop_assert_eq!(&reply["status"], "error");
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(err) = Request::decode(&bytes, DEFAULT_MAX_MESSAGE_SIZE) {
            answerable(&err)?;
        }
    }

    #[test]
    fn json_shaped_soup_never_panics(text in r#"[\[\]{}":,0-9a-z \\\n.-]{0,200}"#) {
        if let Err(err) = Request::decode(text.as_bytes(), DEFAULT_MAX_MESSAGE_SIZE) {
            answerable(&err)?;
        }
    }

    #[test]
    fn any_json_value_is_a_request_or_an_answerable_error(value in json_value()) {
        match Request::decode(value.to_string().as_bytes(), DEFAULT_MAX_MESSAGE_SIZE) {
            Ok(request) => prop_assert!(value.is_object() && !request.command.is_empty()),
            Err(err) => answerable(&err)?,
        }
    }

    #[test]
    fn wrong_types_of_command_and_properties_keep_the_id(
        command in json_value(), properties in json_value(), id in json_value()
    ) {
        let mut object = Map::new();
        object.insert("command".into(), command.clone());
        object.insert("properties".into(), properties);
        object.insert("id".into(), id.clone());
        match Request::decode(Value::Object(object).to_string().as_bytes(), DEFAULT_MAX_MESSAGE_SIZE) {
            Ok(request) => prop_assert_eq!(request.id, id),
            Err(err) => {
                answerable(&err)?;
                // JSON too deep is refused before the id can be read.
                prop_assert!(err.id == id || err.errno == Errno::InvalidJson);
            }
        }
    }

    #[test]
    fn encoded_requests_decode_to_themselves(
        command in "[a-zA-Z_]{1,16}",
        properties in prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..6),
        id in prop_oneof![Just(Value::Null), any::<u64>().prop_map(Value::from), "[0-9a-f]{32}".prop_map(Value::String)],
        cast in any::<bool>(),
    ) {
        let mut request = Request::new(&command, properties.into_iter().collect());
        request.cast = cast;
        let bytes = request.encode_with_id(&id);
        let decoded = Request::decode(&bytes, DEFAULT_MAX_MESSAGE_SIZE).expect("decodes");
        prop_assert_eq!(&decoded.command, &command.to_lowercase());
        prop_assert_eq!(&decoded.properties, &request.properties);
        prop_assert_eq!(&decoded.id, &id);
        prop_assert_eq!(decoded.cast, cast);
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused(depth in 1usize..400) {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let err = Request::decode(text.as_bytes(), DEFAULT_MAX_MESSAGE_SIZE).expect_err("an array is no request");
        let expected = if depth > MAX_DEPTH { Errno::InvalidJson } else { Errno::MessageError };
        prop_assert_eq!(err.errno, expected);
    }

    #[test]
    fn messages_over_the_limit_are_refused_unread(bytes in prop::collection::vec(any::<u8>(), 65..300)) {
        let err = Request::decode(&bytes, 64).expect_err("too large");
        prop_assert_eq!(err.errno, Errno::MessageError);
        prop_assert!(err.reason.contains("too large"));
    }
}
