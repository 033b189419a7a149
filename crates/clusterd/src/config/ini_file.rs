//! The INI form of the 2012 circusd-cluster docs, read unchanged:
//! `[circus-cluster]` with `endpoint`/`stats_endpoint`, and `[node:NAME]` sections.

use ini::Ini;

use super::{Builder, ConfigError};

/// Keys of the 2012 master section that clusterd does not use but must accept.
const IGNORED_MASTER_KEYS: &[&str] = &["ssh_server"];

/// Reads `text` into `builder`.
pub(crate) fn read(text: &str, builder: &mut Builder) -> Result<(), ConfigError> {
    let ini = Ini::load_from_str(text).map_err(|err| builder.error("", format!("invalid INI: {err}")))?;
    for (section, props) in ini.iter() {
        match section {
            None => {
                if let Some((key, _)) = props.iter().next() {
                    return Err(builder.error(key, "key outside any section"));
                }
            }
            Some("circus-cluster") | Some("cluster") => {
                for (name, value) in props.iter() {
                    if IGNORED_MASTER_KEYS.contains(&name) {
                        continue;
                    }
                    let key = format!("{}.{name}", section.unwrap_or_default());
                    // List keys (discover) take comma- or line-separated values.
                    let value = strip_comment(value);
                    let values: Vec<String> = if name == "discover" {
                        value.split([',', '\n']).map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect()
                    } else {
                        vec![value.to_string()]
                    };
                    builder.cluster_key(name, &key, &values)?;
                }
            }
            Some(other) => {
                let Some(name) = other.strip_prefix("node:") else {
                    return Err(builder.error(other, "unknown section (known: [circus-cluster], [node:NAME])"));
                };
                builder.node(name, other, props.iter().map(|(k, v)| (k, strip_comment(v))), &[])?;
            }
        }
    }
    Ok(())
}

/// Drops an inline `; comment` or `# comment` (preceded by white space), as the 2012 examples
/// annotate their values that way.
fn strip_comment(value: &str) -> &str {
    let cut = value
        .char_indices()
        .find(|&(i, c)| (c == ';' || c == '#') && value[..i].ends_with([' ', '\t']))
        .map_or(value.len(), |(i, _)| i);
    value[..cut].trim()
}
