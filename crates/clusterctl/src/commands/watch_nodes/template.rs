//! The `--template` file: Jinja syntax (minijinja), over `nodes`, the matching nodes.
//!
//! Undefined names are errors (a typo such as `node.hots` must not render an empty backend
//! list into a load balancer's configuration), and nothing is auto-escaped whatever the file's
//! extension: the output is a configuration file, not a web page (`|tojson` or `|escape` when
//! wanted). A template is checked when it is loaded, by rendering it once over a sample node,
//! so that a mistake inside a loop shows at start even when no node matches yet.

use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{json, Value};

use super::model::WatchedNode;

/// A loaded, checked template.
pub struct Template {
    env: Environment<'static>,
    name: String,
}

impl Template {
    /// Reads and checks the template at `path`.
    ///
    /// # Errors
    /// One line naming the file, and the line of the mistake when the template has one:
    /// `template backends.tpl, line 3: syntax error: unexpected end of input`.
    pub fn load(path: &Path) -> Result<Template, String> {
        let source =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
        Template::from_source(&path.display().to_string(), source)
    }

    /// Checks `source`, known as `name` in error messages.
    ///
    /// # Errors
    /// As [`Template::load`].
    pub fn from_source(name: &str, source: String) -> Result<Template, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // Keep the file's last newline: a configuration file without it is a different file.
        env.set_keep_trailing_newline(true);
        env.add_template_owned(name.to_string(), source).map_err(|e| describe(name, &e))?;
        let template = Template { env, name: name.to_string() };
        template.render(&[sample()])?;
        Ok(template)
    }

    /// Renders the template over `nodes`.
    ///
    /// # Errors
    /// As [`Template::load`] (an undefined name, a failing filter, ...).
    pub fn render(&self, nodes: &[WatchedNode]) -> Result<String, String> {
        let nodes: Vec<Value> = nodes.iter().map(WatchedNode::to_value).collect();
        let context = minijinja::Value::from_serialize(json!({ "nodes": nodes }));
        let template = self.env.get_template(&self.name).map_err(|e| describe(&self.name, &e))?;
        template.render(context).map_err(|e| describe(&self.name, &e))
    }
}

/// A node with every field set, for the check at load time.
fn sample() -> WatchedNode {
    WatchedNode {
        name: "sample".into(),
        endpoint: "tcp://127.0.0.1:5555".into(),
        tags: vec!["sample".into()],
        state: "alive".into(),
    }
}

/// `template NAME, line N: KIND: DETAIL`.
fn describe(name: &str, error: &minijinja::Error) -> String {
    let what = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    match error.line() {
        Some(line) => format!("template {name}, line {line}: {what}"),
        None => format!("template {name}: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, endpoint: &str, tags: &[&str]) -> WatchedNode {
        let tags = tags.iter().map(|t| t.to_string()).collect();
        WatchedNode { name: name.into(), endpoint: endpoint.into(), tags, state: "alive".into() }
    }

    #[test]
    fn renders_seed_003s_backend_list() {
        let source = "{% for node in nodes %}server {{ node.name }} {{ node.host }}:{{ node.port }}\n{% endfor %}";
        let template = Template::from_source("backends.cfg.j2", source.into()).unwrap();
        let nodes = [node("a", "tcp://10.0.0.1:5555", &[]), node("b", "tcp://10.0.0.2:6555", &["eu"])];
        assert_eq!(template.render(&nodes).unwrap(), "server a 10.0.0.1:5555\nserver b 10.0.0.2:6555\n");
        assert_eq!(template.render(&[]).unwrap(), "");
    }

    #[test]
    fn nothing_is_escaped_and_the_last_newline_stays() {
        let source = "{{ nodes | map(attribute='name') | join(',') }} <{{ nodes[0].tags | tojson }}>\n";
        let template = Template::from_source("page.html", source.into()).unwrap();
        let rendered = template.render(&[node("a&b", "ipc:///x", &["eu"])]).unwrap();
        assert_eq!(rendered, "a&b <[\"eu\"]>\n");
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        let err = Template::from_source("t.j2", "ok\n{% for node in nodes %}\n{{ node.name }\n".into()).err().unwrap();
        assert!(err.starts_with("template t.j2, line 3: syntax error"), "{err}");
        // Inside a loop, found at load time by the sample node although no node matches yet.
        let err = Template::from_source("t.j2", "{% for n in nodes %}\n{{ n.hots }}{% endfor %}".into()).err().unwrap();
        assert!(err.starts_with("template t.j2, line 2: undefined value"), "{err}");
        let err = Template::load(Path::new("/nonexistent/t.j2")).err().unwrap();
        assert!(err.starts_with("cannot read template /nonexistent/t.j2:"), "{err}");
    }
}
