//! Query results as files for other tools: a lot's provenance tree as
//! Graphviz DOT (`tinledger lot ID --tree --dot`) and an actor's mass
//! balance as CSV (`tinledger report balance --csv`). docs/cli.md describes
//! both.

use tinledger_core::query::{Balance, Provenance};
use tinledger_core::units::{format_grade, format_mass};

/// A DOT double-quoted string: `"` and `\` escaped, newlines as `\n`.
fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The provenance tree as a Graphviz digraph: one node per lot (id,
/// material, mass and grade when created, the creating entry), one edge per
/// input from the input lot to the lot made from it, labelled with the
/// grams taken. Mines are at the top (`rankdir=TB`, edges point downstream).
pub fn provenance_dot(p: &Provenance) -> String {
    let mut out = String::from("digraph provenance {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for c in &p.lots {
        let grade = c.grade_ppm.map(format_grade).unwrap_or_else(|| "grade unknown".into());
        let label = format!(
            "{}\n{} {}, {}\n{} seq {} by {}\n{}",
            c.lot,
            c.material,
            format_mass(c.mass_g),
            grade,
            c.kind,
            c.seq,
            c.signer,
            c.at
        );
        let style = if c.lot == p.root { ", style=bold" } else { "" };
        out.push_str(&format!("  {} [label={}{style}];\n", dot_str(c.lot.as_str()), dot_str(&label)));
    }
    for c in &p.lots {
        for i in &c.inputs {
            out.push_str(&format!(
                "  {} -> {} [label={}];\n",
                dot_str(i.lot.as_str()),
                dot_str(c.lot.as_str()),
                dot_str(&format_mass(i.mass_g))
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// The balance as CSV with the header `figure,value,unit,seq,lot`: one row
/// per figure (grams `g`, yields `ppm`; a figure that is unknown has an
/// empty value), then one `receive_difference` row per receive whose mass
/// differed from the dispatched mass (value = received − dispatched).
pub fn balance_csv(b: &Balance) -> Result<String, crate::FormatError> {
    let opt = |v: Option<u128>| v.map(|v| v.to_string()).unwrap_or_default();
    let rows: Vec<[String; 5]> = [
        ("opening_stock", b.opening_g.to_string(), "g"),
        ("extracted", b.extracted_g.to_string(), "g"),
        ("received", b.received_g.to_string(), "g"),
        ("produced", b.produced_g.to_string(), "g"),
        ("consumed", b.consumed_g.to_string(), "g"),
        ("dispatched", b.dispatched_g.to_string(), "g"),
        ("exported", b.exported_g.to_string(), "g"),
        ("closing_stock", b.closing_g.to_string(), "g"),
        ("process_in", b.process_in_g.to_string(), "g"),
        ("process_out", b.process_out_g.to_string(), "g"),
        ("tin_in", opt(b.tin_in_g), "g"),
        ("tin_out", opt(b.tin_out_g), "g"),
        ("mass_yield", opt(b.mass_yield_ppm), "ppm"),
        ("tin_yield", opt(b.tin_yield_ppm), "ppm"),
    ]
    .into_iter()
    .map(|(f, v, u)| [f.to_string(), v, u.to_string(), String::new(), String::new()])
    .chain(b.discrepancies.iter().map(|d| {
        [
            "receive_difference".to_string(),
            (i128::from(d.received_g) - i128::from(d.dispatched_g)).to_string(),
            "g".to_string(),
            d.seq.to_string(),
            d.lot.to_string(),
        ]
    }))
    .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| crate::FormatError::Invalid { msg: format!("cannot write CSV: {e}"), hint: None };
    w.write_record(["figure", "value", "unit", "seq", "lot"]).map_err(fail)?;
    for r in &rows {
        w.write_record(r).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| crate::FormatError::Invalid { msg: format!("cannot write CSV: {e}"), hint: None })?;
    String::from_utf8(bytes)
        .map_err(|e| crate::FormatError::Invalid { msg: format!("CSV is not UTF-8: {e}"), hint: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_strings_are_escaped() {
        assert_eq!(dot_str("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn balance_csv_has_every_figure() {
        let b = Balance { opening_g: -5, received_g: 7, ..Balance::default() };
        let csv = balance_csv(&b).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("figure,value,unit,seq,lot"));
        assert_eq!(lines.next(), Some("opening_stock,-5,g,,"));
        assert!(csv.contains("\nreceived,7,g,,\n"));
        assert!(csv.contains("\ntin_yield,,ppm,,\n"));
        assert_eq!(csv.lines().count(), 15);
    }
}
