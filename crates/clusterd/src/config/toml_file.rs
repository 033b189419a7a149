//! The TOML form: `[cluster]` keys and one `[node.NAME]` table per node.

use toml::{Table, Value};

use super::{Builder, ConfigError};

/// Reads `text` into `builder`.
pub(crate) fn read(text: &str, builder: &mut Builder) -> Result<(), ConfigError> {
    let table: Table = text.parse().map_err(|err: toml::de::Error| {
        let reason = err.message().split_whitespace().collect::<Vec<_>>().join(" ");
        let line = err.span().map(|span| 1 + text[..span.start].matches('\n').count());
        let key = line.map(|l| format!("line {l}")).unwrap_or_default();
        builder.error(&key, format!("invalid TOML: {reason}"))
    })?;
    for (section, value) in &table {
        match (section.as_str(), value) {
            ("cluster", Value::Table(keys)) => {
                for (name, value) in keys {
                    let key = format!("cluster.{name}");
                    let values = match value {
                        Value::Array(items) => {
                            items.iter().map(|item| scalar(builder, &key, item)).collect::<Result<Vec<_>, _>>()?
                        }
                        scalar_value => vec![scalar(builder, &key, scalar_value)?],
                    };
                    builder.cluster_key(name, &key, &values)?;
                }
            }
            ("node", Value::Table(nodes)) => {
                for (name, value) in nodes {
                    let prefix = format!("node.{name}");
                    let Value::Table(keys) = value else {
                        return Err(
                            builder.error(&prefix, "expected a table: [node.NAME] with endpoint = \"tcp://...\"")
                        );
                    };
                    let mut pairs = Vec::new();
                    for (k, v) in keys {
                        let key = format!("{prefix}.{k}");
                        let text = match v {
                            // Lists (tags = ["eu", "canary"]) are passed on comma-joined.
                            Value::Array(items) => items
                                .iter()
                                .map(|item| scalar(builder, &key, item))
                                .collect::<Result<Vec<_>, _>>()?
                                .join(","),
                            other => scalar(builder, &key, other)?,
                        };
                        pairs.push((k.as_str(), text));
                    }
                    builder.node(name, &prefix, pairs.iter().map(|(k, v)| (*k, v.as_str())), &[])?;
                }
            }
            ("cluster" | "node", _) => return Err(builder.error(section, "expected a table")),
            _ => return Err(builder.error(section, "unknown section (known: [cluster], [node.NAME])")),
        }
    }
    Ok(())
}

/// A string, integer or boolean value as text; anything else is refused.
fn scalar(builder: &Builder, key: &str, value: &Value) -> Result<String, ConfigError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        other => Err(builder.error(key, format!("expected a string, got a {}", other.type_str()))),
    }
}
