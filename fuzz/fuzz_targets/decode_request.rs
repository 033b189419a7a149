//! Feeds arbitrary bytes to `Request::decode`, as the master does with every frame it
//! receives: it must never panic, and every failure must be answerable with an errno reply.

#![no_main]

use clusterd_protocol::message::{Request, DEFAULT_MAX_MESSAGE_SIZE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    match Request::decode(bytes, DEFAULT_MAX_MESSAGE_SIZE) {
        // What was decoded encodes again (the master forwards it) and decodes the same.
        Ok(request) => {
            let again = Request::decode(&request.encode_with_id(&request.id), DEFAULT_MAX_MESSAGE_SIZE)
                .expect("an encoded request decodes");
            assert_eq!(again.command, request.command);
            assert_eq!(again.properties, request.properties);
        }
        Err(err) => {
            assert!(matches!(err.errno.code(), 1 | 3));
            let reply = err.reply().encode();
            assert!(serde_json_is_object(&reply));
        }
    }
});

/// The error reply is a JSON object (checked with the decoder's own reply parser).
fn serde_json_is_object(bytes: &[u8]) -> bool {
    clusterd_protocol::message::Reply::decode(bytes).is_ok()
}
