//! Finds the line of a dotted field path (`cluster.pools[1].nodes`) in a TOML
//! source, so that validation errors found after deserialization can still
//! point at the line, like syntax errors do.

use toml::de::{DeTable, DeValue};

/// The 1-based line where `field` is written, or of its closest written
/// parent; `None` if even the first segment is absent.
pub fn line_of(src: &str, field: &str) -> Option<usize> {
    let root = DeTable::parse(src).ok()?;
    let mut table: &DeTable<'_> = root.get_ref();
    let mut offset = None;
    for seg in field.split('.') {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let Some((key, mut value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name)
        else {
            break;
        };
        offset = Some(key.span().start);
        if let Some(i) = index {
            let DeValue::Array(items) = value.get_ref() else {
                break;
            };
            let Some(item) = items.get(i) else { break };
            offset = Some(item.span().start);
            value = item;
        }
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    offset.map(|o| src[..o.min(src.len())].matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::line_of;

    #[test]
    fn finds_nested_fields_and_array_items() {
        let src = "schema = 1\n[cluster]\n[[cluster.pools]]\nname = \"a\"\n[[cluster.pools]]\nname = \"b\"\nnodes = 3\n[run]\nhorizon_s = -1\n";
        assert_eq!(line_of(src, "schema"), Some(1));
        assert_eq!(line_of(src, "run.horizon_s"), Some(9));
        assert_eq!(line_of(src, "cluster.pools[1].nodes"), Some(7));
        assert_eq!(line_of(src, "cluster.pools[1]"), Some(5));
        assert_eq!(line_of(src, "nothing.here"), None);
    }
}
