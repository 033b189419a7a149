//! `ipython`: asks circusd to start an IPython kernel. circusctl then attaches a console to it;
//! clusterctl prints how to attach instead.

use clusterd_protocol::Reply;
use serde_json::Value;

use super::{console_error, field, is_ok, Malformed};
use crate::pystr::py_str;

/// The kernel file to attach to, or circusctl's `error: Could not start ipython kernel` (printed
/// on stdout with exit status 0, since the reply itself is `ok`).
pub fn render(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    let shell = field(reply, "shell")?;
    let started = match shell {
        Value::Null | Value::Bool(false) => false,
        Value::String(name) => !name.is_empty(),
        Value::Number(number) => number.as_f64() != Some(0.0),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(true) => true,
    };
    if started {
        let shell = py_str(shell);
        Ok(format!("ipython kernel started: attach with 'ipython console --existing {shell}'"))
    } else {
        Ok("error: Could not start ipython kernel".into())
    }
}

#[cfg(test)]
mod tests {
    use super::super::reply;
    use super::*;

    #[test]
    fn no_kernel_prints_circusctl_error_line() {
        let text = r#"{"status": "ok", "time": 1.0, "shell": false, "msg": "No module named 'IPython'", "id": "ipy"}"#;
        assert_eq!(render(&reply(text)).unwrap(), "error: Could not start ipython kernel");
        let started = r#"{"status": "ok", "shell": "kernel-12.json", "msg": null}"#;
        assert_eq!(
            render(&reply(started)).unwrap(),
            "ipython kernel started: attach with 'ipython console --existing kernel-12.json'"
        );
        assert!(render(&reply(r#"{"status": "ok"}"#)).is_err());
        assert_eq!(render(&reply(r#"{"status": "error", "reason": "r"}"#)).unwrap(), "error: r");
    }
}
