//! The chat's frame parser: whatever a client sends over the WebSocket is parsed as a
//! `ClientFrame` and its ids checked; nothing may panic.
#![no_main]
use kefu_server::chat::protocol::ClientFrame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(frame) = serde_json::from_str::<ClientFrame>(text)
        && let ClientFrame::Message { client_id, .. } = &frame
    {
        let _ = kefu_core::chat::check_client_id(client_id);
    }
    let _ = kefu_core::chat::check_visitor_id(text);
});
