//! Certificate rendering (`tinledger cert render`): a certificate as one self-contained, printable
//! HTML page, for the buyer's files.
//!
//! The page loads nothing: no scripts, fonts, images or style sheets (its
//! Content-Security-Policy is `default-src 'none'`), and its only URLs are
//! OpenStreetMap links the reader may click. Every string taken from the
//! certificate is escaped: the file is untrusted input, and it is rendered
//! by the CLI only after it verified it (or, under `--unverified`, with a
//! banner saying it was not): [`Checked`] tells the page which.
//!
//! Labels are in English and Bahasa Indonesia ([`bi`]); every time is shown
//! in UTC and in WIB (UTC+7, Bangka Belitung's zone). What the summary does
//! not carry (the authority, the grade each attribution weighed, each
//! smelt's mass balance) comes from [`tinledger_core::certview`].

use sha2::{Digest, Sha256};
use tinledger_core::cert::{Certificate, Extraction, Origin, SmelterSummary, Summary, TimelineItem, SHARE_DENOM};
use tinledger_core::certview::{self, CertView, GradeBasis, GradeSource, Step};
use tinledger_core::event::PublicKey;
use tinledger_core::rules::Flag;
use tinledger_core::units::{format_grade, format_mass, GeoPoint, Timestamp};

/// A share in parts per billion as a percentage with three decimals
/// (`12.345%`), rounded half up.
pub fn share_pct(ppb: u64) -> String {
    let milli_pct = (ppb + 5_000) / 10_000; // thousandths of a percent
    format!("{}.{:03}%", milli_pct / 1000, milli_pct % 1000)
}

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    escape(s, false)
}

/// Like [`esc`], keeping line breaks (for `<pre>`).
fn esc_pre(s: &str) -> String {
    escape(s, true)
}

/// Control, bidirectional-override and invisible format characters are shown
/// as `[U+XXXX]`, so certificate text can neither hide nor reorder what is
/// printed around it.
fn escape(s: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' if keep_newlines => out.push('\n'),
            c if hidden(c) => out.push_str(&format!("[U+{:04X}]", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Escaped, with a line-break opportunity after each `/` (licence numbers).
fn breakable(s: &str) -> String {
    esc(s).replace('/', "/<wbr>")
}

fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Colours of the origin mines, in table order (repeats after eight).
const PALETTE: [&str; 8] = ["#1f4e79", "#2f7d62", "#a86412", "#6a4c93", "#9b2c4b", "#4f6d2a", "#3f5f74", "#7a5230"];

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// `1234567` → `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// (date, time) in UTC: `("2026-03-05", "06:00")`; seconds only when not zero.
fn date_time(t: &Timestamp) -> (String, String) {
    let s = t.to_rfc3339();
    match s.split_once('T') {
        Some((d, rest)) => {
            let tm = rest.trim_end_matches('Z');
            (d.to_string(), tm.strip_suffix(":00").unwrap_or(tm).to_string())
        }
        None => (s, String::new()),
    }
}

/// Western Indonesia Time, UTC+7 (no daylight saving).
const WIB_OFFSET_S: i64 = 7 * 3600;

/// (date, time) in WIB.
fn date_time_wib(t: &Timestamp) -> (String, String) {
    date_time(&Timestamp(t.0.saturating_add(WIB_OFFSET_S)))
}

/// `2026-03-05 06:00 UTC · 13:00 WIB` (the WIB date too when it differs).
fn utc(t: &Timestamp) -> String {
    let (d, tm) = date_time(t);
    format!("{d} {tm} UTC \u{00b7} {}", wib(t, &d))
}

/// The WIB time, with its date when it is not `utc_date`.
fn wib(t: &Timestamp, utc_date: &str) -> String {
    let (wd, wt) = date_time_wib(t);
    if wd == utc_date {
        format!("{wt} WIB")
    } else {
        format!("{wd} {wt} WIB")
    }
}

/// A label in English and Bahasa Indonesia: `Mass / Massa` (the Indonesian
/// marked `lang="id"`). Both are fixed text, not escaped.
pub fn bi(en: &str, id: &str) -> String {
    if en == id {
        return en.to_string();
    }
    format!("{en}<span class=\"bi\" lang=\"id\"> / {id}</span>")
}

/// How the CLI checked the certificate before rendering it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked {
    /// `cert verify`'s checks passed.
    Verified {
        /// The trusted authority key that opened the checkpoint.
        authority_key: PublicKey,
    },
    /// Rendered under `--unverified`: the page says so on every printed page.
    Unverified,
    /// `cert verify --policy`'s checks passed: also the witness quorum of a
    /// trust policy (docs/witness.md).
    VerifiedWithPolicy {
        /// The trusted authority key that opened the checkpoint.
        authority_key: PublicKey,
        /// The policy's names of the witnesses whose cosignatures verified.
        witnesses: Vec<String>,
        /// The quorum rule, spelled out.
        quorum: String,
    },
}

/// SHA-256 of the certificate file's bytes, lowercase hex (what
/// `sha256sum FILE` prints): the value a buyer quotes.
pub fn file_sha256(file: &[u8]) -> String {
    hex::encode(Sha256::digest(file))
}

/// The first 16 hex digits of [`file_sha256`] in groups of four
/// (`1a2b 3c4d 5e6f 7081`), to quote on the phone or in a letter.
pub fn short_hash(full: &str) -> String {
    let head: Vec<&str> = full.as_bytes().chunks(4).take(4).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    head.join(" ")
}

/// The text the page's QR code holds: `sha256:` and the file's hash.
pub fn qr_text(full: &str) -> String {
    format!("sha256:{full}")
}

/// `text` as a QR code (error correction M), an inline SVG of one path with
/// the four-module quiet zone; nothing is loaded.
fn qr_svg(text: &str) -> String {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M) else {
        return String::new();
    };
    let w = code.width();
    let quiet = 4;
    let size = w + 2 * quiet;
    let mut d = String::new();
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            d.push_str(&format!("M{} {}h1v1h-1z", i % w + quiet, i / w + quiet));
        }
    }
    format!(
        "<svg class=\"qr\" viewBox=\"0 0 {size} {size}\" role=\"img\" aria-label=\"QR code: {}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{d}\"/></svg>",
        esc(text)
    )
}

/// `2.851200° S<br>106.231400° E` (HTML).
fn coords(p: &GeoPoint) -> String {
    let half = |v: i32, pos: char, neg: char| {
        let a = i64::from(v).abs();
        format!("{}.{:06}°&#8239;{}", a / 1_000_000, a % 1_000_000, if v < 0 { neg } else { pos })
    };
    format!("{}<br>{}", half(p.lat_micro, 'N', 'S'), half(p.lon_micro, 'E', 'W'))
}

fn osm_url(p: &GeoPoint) -> String {
    let (lat, lon) = (p.lat(), p.lon());
    format!("https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=13/{lat}/{lon}")
}

/// Coordinates with a map link, or a dash.
fn place(p: Option<&GeoPoint>) -> String {
    match p {
        Some(p) => format!(
            "<span class=\"nowrap\">{}</span><br><a class=\"map\" rel=\"noreferrer\" href=\"{}\">OpenStreetMap&nbsp;&#8599;</a>",
            coords(p),
            esc(&osm_url(p))
        ),
        None => "<span class=\"muted\">not registered</span>".into(),
    }
}

/// A share as a percentage with three decimals (`share_pct`), or a note
/// when the (unverified) value is impossible.
fn pct(ppb: u64) -> String {
    if ppb > SHARE_DENOM {
        format!("invalid ({} ppb)", group(ppb))
    } else {
        share_pct(ppb)
    }
}

/// CSS width of a share, at most 100%.
fn width(ppb: u64) -> String {
    share_pct(ppb.min(SHARE_DENOM))
}

fn grade(g: Option<u32>) -> String {
    g.map(format_grade).unwrap_or_else(|| "grade not declared".into())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn state_label(s: &str) -> String {
    match s {
        "in_transit" => "In transit".into(),
        other => capitalise(other),
    }
}

/// The lot state in both languages (HTML).
fn state_bi(s: &str) -> String {
    let id = match s {
        "active" => "Aktif",
        "in_transit" => "Dalam perjalanan",
        "consumed" => "Terpakai",
        "exported" => "Diekspor",
        _ => return esc(&state_label(s)),
    };
    bi(&esc(&state_label(s)), id)
}

/// Origin, tree size and root hash lines of the checkpoint note (shown as
/// written: the page does not check them).
fn checkpoint_lines(note: &str) -> (&str, &str, &str) {
    let mut l = note.split('\n');
    let mut next = || l.next().filter(|s| !s.is_empty()).unwrap_or("?");
    let origin = next();
    let size = next();
    let root = next();
    (origin, size, root)
}

/// Keep only id characters (for a CSS string in the print footer).
fn css_safe(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':')).take(64).collect()
}

const CSS: &str = r#"
:root{--ink:#18212c;--muted:#5d6876;--faint:#8a94a1;--line:#d9dee4;--rule:#18212c;--soft:#f3f5f7;--accent:#1f4e79;
--amber:#8a5a00;--amber-line:#e0a526;--amber-bg:#fff7e0;--red:#a61b1b;--red-line:#d64545;--red-bg:#fdeeee}
*{box-sizing:border-box}
html{background:#e4e7eb}
body{margin:0;color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans","DejaVu Sans",sans-serif;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.doc{max-width:1060px;margin:28px auto;background:#fff;padding:44px 56px 32px;box-shadow:0 1px 2px rgba(0,0,0,.08),0 6px 24px rgba(0,0,0,.08)}
.mono,code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace}
.mono{font-size:.9em}
.muted{color:var(--muted)}
.nowrap{white-space:nowrap}
a{color:var(--accent)}
a.map{font-size:12px;text-decoration:none;border-bottom:1px solid #b9c9da}
header.head{display:flex;justify-content:space-between;align-items:flex-end;gap:24px;padding-bottom:18px;border-bottom:3px double var(--rule)}
.brand{display:flex;gap:18px;align-items:center}
.tile{width:64px;height:72px;border:2px solid var(--ink);display:flex;flex-direction:column;align-items:center;justify-content:center;line-height:1;flex:none}
.tile .z{font-size:10px;align-self:flex-start;margin:-2px 0 0 6px}
.tile .sym{font-size:28px;font-weight:700;margin:2px 0 3px}
.tile .nm{font-size:9px;text-transform:uppercase;letter-spacing:.12em}
.kicker{margin:0;font-size:11px;text-transform:uppercase;letter-spacing:.14em;color:var(--muted)}
h1{margin:2px 0 0;font-size:28px;line-height:1.15;font-weight:700;letter-spacing:-.01em}
.lotbox{text-align:right}
.lotbox .lbl{font-size:11px;text-transform:uppercase;letter-spacing:.12em;color:var(--muted)}
.lotbox .lot{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-size:21px;font-weight:700;white-space:nowrap}
.lotbox .lot.long{font-size:15px;white-space:normal;overflow-wrap:anywhere}
.lotbox .state{display:inline-block;margin-top:4px;padding:1px 8px;border:1px solid var(--ink);font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.1em}
dl.facts{display:grid;grid-template-columns:repeat(4,1fr);margin:0;border-bottom:1px solid var(--line)}
dl.facts div{padding:11px 14px 11px 0;border-bottom:1px solid var(--line);min-width:0}
dl.facts div:nth-last-child(-n+2){border-bottom:0}
dl.facts .span2{grid-column:span 2}
dt{font-size:11px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:0 0 2px}
dd{margin:0;font-weight:600;overflow-wrap:anywhere}
dd .sub,td .sub{display:block;font-weight:400;font-size:12px;color:var(--muted)}
dd.big{font-size:17px}
.notice{margin:18px 0 0;padding:9px 14px;background:var(--soft);border-left:4px solid var(--accent);font-size:13px}
section{margin-top:30px}
h2{margin:0 0 12px;font-size:15px;text-transform:uppercase;letter-spacing:.09em;padding-bottom:6px;border-bottom:1.5px solid var(--rule);display:flex;align-items:baseline;gap:10px}
h2 .n{color:var(--faint);font-weight:600}
h2 .aside{margin-left:auto;font-size:12px;font-weight:400;text-transform:none;letter-spacing:0;color:var(--muted)}
.box{border:1px solid var(--line);background:var(--soft);padding:16px 18px}
.box dl{display:grid;grid-template-columns:repeat(3,1fr);gap:12px 20px;margin:0}
.box dl .wide{grid-column:span 2}
table{width:100%;border-collapse:collapse}
th{text-align:left;font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.07em;color:var(--muted);padding:6px 10px;border-bottom:1.5px solid var(--ink);vertical-align:bottom}
td{padding:9px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th:first-child,td:first-child{padding-left:0}
th:last-child,td:last-child{padding-right:0}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td{border-bottom:0;border-top:1.5px solid var(--ink);font-weight:600}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-weight:700;font-size:13px}
.sw{display:inline-block;width:10px;height:10px;margin-right:7px;vertical-align:0}
ul.ext{list-style:none;margin:0;padding:0}
ul.ext li+li{margin-top:6px;padding-top:6px;border-top:1px dotted var(--line)}
ul.ext .sub{font-size:11.5px}
td.mono{font-size:12px}
table.origins{table-layout:fixed}
.c-mine{width:21%}.c-lic{width:16%}.c-loc{width:14%}.c-ext{width:27%}.c-share{width:9%}.c-tin{width:13%}
ul.ext .lot{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-weight:600;font-size:12.5px}
.note{font-size:12px;color:var(--muted);margin:8px 0 0}
.bars{display:grid;grid-template-columns:minmax(180px,250px) 1fr auto auto;gap:10px 16px;align-items:center}
.bars .who{overflow-wrap:anywhere}
.bars .who .sub{display:block;font-size:12px;color:var(--muted)}
.track{height:18px;background:var(--soft);border:1px solid var(--line);position:relative}
.fill{position:absolute;left:0;top:0;bottom:0}
.bars .pct{font-weight:700;font-variant-numeric:tabular-nums;text-align:right;min-width:70px}
.bars .g{font-variant-numeric:tabular-nums;text-align:right;color:var(--muted);min-width:100px}
.stack{display:flex;height:10px;margin:0 0 16px;border:1px solid var(--line)}
.stack span{display:block;height:100%}
table.tl{table-layout:fixed}
.t-rail{width:26px}.t-seq{width:52px}.t-time{width:110px}.t-kind{width:118px}.t-signer{width:22%}
table.tl td{padding-top:7px;padding-bottom:7px;font-size:13px}
table.tl td.rail{width:26px;position:relative;border-bottom:0;padding:0}
table.tl td.rail::before{content:"";position:absolute;left:8px;top:0;bottom:0;border-left:2px solid #c3cbd4}
table.tl tr:first-child td.rail::before{top:14px}
table.tl tr:last-child td.rail::before{bottom:auto;height:14px}
table.tl td.rail::after{content:"";position:absolute;left:3px;top:10px;width:8px;height:8px;border-radius:50%;background:#fff;border:2px solid var(--accent)}
table.tl tr.untrusted td{background:var(--red-bg)}
table.tl tr.untrusted td.rail::after{border-color:var(--red);background:var(--red)}
table.tl tr.flagged td{background:var(--amber-bg)}
table.tl tr.flagged td.rail::after{border-color:var(--amber-line);background:var(--amber-line)}
table.tl tr.untrusted td.rail,table.tl tr.flagged td.rail{background:none}
.kind{display:inline-block;padding:1px 7px;border-radius:3px;font-size:10.5px;font-weight:700;text-transform:uppercase;letter-spacing:.05em;background:#eceff3;color:#37424f;white-space:nowrap}
.k-extract{background:#e3f1e8;color:#1d5a35}
.k-export{background:#e1ecf7;color:#1f4e79}
.k-assay{background:#efe9f7;color:#553684}
.k-smelt,.k-manufacture{background:#fbeedd;color:#7c430c}
.k-merge,.k-split{background:#e9eef1;color:#304a57}
.tag{display:inline-block;margin-left:6px;padding:0 5px;font-size:10px;font-weight:700;letter-spacing:.05em;border-radius:2px;color:#fff;vertical-align:1px}
.tag.red{background:var(--red)}
.tag.amber{background:var(--amber-line);color:#3b2800}
.alert{padding:14px 18px;border:1px solid;border-left-width:6px}
.alert+.alert{margin-top:12px}
.alert h3{margin:0 0 6px;font-size:14px}
.alert ul{margin:0;padding-left:18px}
.alert li+li{margin-top:4px}
.alert.amber{background:var(--amber-bg);border-color:var(--amber-line);color:#4a3200}
.alert.amber h3{color:var(--amber)}
.alert.red{background:var(--red-bg);border-color:var(--red-line);color:#5c0f0f}
.alert.red h3{color:var(--red)}
.alert.clear{background:var(--soft);border-color:var(--line);border-left-color:#7d8a99;color:var(--ink)}
.verify p{margin:0 0 10px;max-width:78ch}
.verify ol{margin:6px 0 14px;padding-left:22px;max-width:86ch}
.verify li+li{margin-top:4px}
pre{margin:0 0 14px;padding:12px 14px;background:#f6f7f9;border:1px solid var(--line);font-size:12.5px;line-height:1.45;white-space:pre-wrap;overflow-wrap:anywhere}
pre.cmd{background:#1d2733;color:#f1f4f7;border-color:#1d2733;font-size:13.5px}
.sig{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-size:11.5px;overflow-wrap:anywhere;color:var(--muted)}
footer{margin-top:30px;padding-top:10px;border-top:1px solid var(--line);font-size:11.5px;color:var(--muted);display:flex;justify-content:space-between;gap:20px}
.bi{font-weight:400;color:var(--muted)}
h2 .bi,th .bi,dt .bi{color:inherit;opacity:.8}
th .bi{display:block}
table.bal{table-layout:fixed}
.b-side{width:13%}.b-lot{width:33%}.b-mass{width:18%}.b-grade{width:16%}.b-tin{width:20%}
table.bal td.mono{white-space:nowrap;overflow-wrap:normal}
table.bal tfoot td{border-top:0;padding-top:4px;padding-bottom:4px}
table.bal tfoot tr:first-child td{border-top:1.5px solid var(--ink)}
.h1id{margin:0;font-size:17px;color:var(--muted);font-weight:600}
.verdict{margin:0 0 18px;padding:10px 16px;border:2px solid;font-size:13px}
.verdict.ok{border-color:#2f7d62;background:#eef7f2;color:#173d30}
.verdict.bad{border-color:var(--red);border-width:4px;background:var(--red-bg);color:#5c0f0f;font-size:15px}
.verdict.bad strong{font-size:20px;display:block;color:var(--red);letter-spacing:.04em}
dl.facts.auth{grid-template-columns:1fr 3fr}
dl.facts.auth div{border-bottom:0}
dl.facts .span3{grid-column:span 1}
.fp{font-size:15px;font-weight:700;letter-spacing:.04em}
.quote{display:flex;gap:18px;align-items:center;margin:14px 0 0;padding:12px 16px;border:1px solid var(--line)}
svg.qr{width:112px;height:112px;flex:none}
.qlbl{font-size:11px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted)}
.quote .short{font-size:22px;font-weight:700;letter-spacing:.06em}
.quote .full{font-size:11.5px;overflow-wrap:anywhere;color:var(--muted)}
.quote .note{margin-top:4px}
.balance+.balance{margin-top:16px}
.balance h3{margin:0 0 6px;font-size:13.5px;font-weight:600}
table.grades td{font-size:13px}
table.grades{table-layout:fixed}
table.grades th:nth-child(1){width:8%}table.grades th:nth-child(2){width:13%}table.grades th:nth-child(3){width:21%}
table.grades th:nth-child(4){width:14%}table.grades th:nth-child(5){width:13%}
@page{size:A4;margin:14mm 13mm 16mm}
@media print{
html{background:#fff}
body{font-size:9.5pt}
.doc{max-width:none;margin:0;padding:0;box-shadow:none}
a{color:inherit}
a.map{border-bottom:0}
section{margin-top:20px}
h2{break-after:avoid}
tr,.alert,.box,.bars>*,pre,ul.ext li,.keep{break-inside:avoid}
h1{font-size:22px}
.tile{width:54px;height:60px}
.tile .sym{font-size:23px}
.lotbox .lot{font-size:16px}
dd.big{font-size:14px}
th,td{padding:6px 7px}
td.mono{font-size:10.5px}
ul.ext .lot{font-size:11px}
.c-mine{width:20%}.c-lic{width:17%}.c-loc{width:15%}.c-ext{width:25%}.c-share{width:10%}.c-tin{width:13%}
footer{font-size:8pt}
a.map{display:none}
th.num{white-space:normal}
.t-rail{width:20px}.t-seq{width:50px}.t-time{width:80px}.t-kind{width:92px}.t-signer{width:19%}
table.tl td{font-size:9pt}
table.tl td.mono{font-size:8pt}
.kind{font-size:7pt;padding:0 5px}
thead{display:table-header-group}
.verify{break-before:auto}
pre.cmd{background:#fff;color:var(--ink);border:1.5px solid var(--ink)}
.verdict.ok{background:#fff}
.verdict.bad{background:#fff}
.quote,.balance,.verdict{break-inside:avoid}
svg.qr{width:30mm;height:30mm}
.quote .short{font-size:16pt}
table.grades td{font-size:9pt}
.h1id{font-size:13pt}
}
"#;

/// The page for certificate `c`, rendered from the certificate file's bytes
/// `file` (hashed for the page, as `sha256sum` would) after the check
/// `checked`.
pub fn page(c: &Certificate, file: &[u8], checked: &Checked) -> String {
    let s = &c.summary;
    let (cp_origin, cp_size, cp_root) = checkpoint_lines(&c.checkpoint);
    let view = certview::view(c).map_err(|e| e.to_string());
    let lot = esc(c.lot.as_str());
    let unverified = matches!(checked, Checked::Unverified);
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         base-uri 'none'; form-action 'none'\">\n",
    );
    h.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!(
        "<title>{}Certificate of tin provenance \u{2014} {lot}</title>\n<style>{CSS}",
        if unverified { "[NOT VERIFIED] " } else { "" }
    ));
    h.push_str(&format!(
        "@page{{@bottom-left{{content:\"Certificate of tin provenance \u{00b7} lot {}\";font:8pt sans-serif;color:#5d6876}}\
         @bottom-right{{content:\"Page \" counter(page) \" of \" counter(pages);font:8pt sans-serif;color:#5d6876}}{}}}\n",
        css_safe(c.lot.as_str()),
        if unverified {
            "@top-center{content:\"NOT VERIFIED / TIDAK TERVERIFIKASI\";font:bold 10pt sans-serif;color:#a61b1b}"
        } else {
            ""
        }
    ));
    h.push_str("</style>\n</head>\n<body>\n<main class=\"doc\">\n");

    verdict(&mut h, checked, view.as_ref().ok());
    header(&mut h, c, cp_origin, cp_size);
    authority(&mut h, checked, &view);
    file_hash(&mut h, file);
    h.push_str(
        "<p class=\"notice\"><strong>This page is a rendering of a certificate file and proves nothing by itself.</strong> \
         The evidence is the signed certificate file; check it as described under <em>How to verify</em> before \
         relying on anything shown here.<span class=\"bi\" lang=\"id\"> Halaman ini hanya tampilan berkas sertifikat \
         dan tidak membuktikan apa pun; buktinya adalah berkas sertifikat yang ditandatangani.</span></p>\n",
    );
    // Sections are numbered in page order; a new one is one more call.
    let mut n = 0;
    export(&mut h, &mut n, s);
    warnings(&mut h, &mut n, s);
    origins(&mut h, &mut n, s, view.as_ref().ok());
    attribution(&mut h, &mut n, s);
    grades_used(&mut h, &mut n, &view);
    smelters(&mut h, &mut n, &s.smelters);
    mass_balance(&mut h, &mut n, &view);
    corrections(&mut h, &mut n, view.as_ref().ok());
    timeline(&mut h, &mut n, s, view.as_ref().ok());
    how_to_verify(&mut h, &mut n, c, cp_origin, cp_size, cp_root);

    h.push_str(&format!(
        "<footer><span>Rendered by tinledger {} from the certificate for lot <span class=\"mono\">{lot}</span>. \
         {}</span><span>Certificate format {}</span></footer>\n",
        env!("CARGO_PKG_VERSION"),
        if unverified {
            "<strong>NOT VERIFIED when rendered / TIDAK TERVERIFIKASI.</strong>"
        } else {
            "Verified when rendered / Terverifikasi saat dirender."
        },
        esc(&c.format)
    ));
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// The banner saying whether the certificate was verified before rendering.
fn verdict(h: &mut String, checked: &Checked, view: Option<&CertView>) {
    match checked {
        Checked::Verified { authority_key } | Checked::VerifiedWithPolicy { authority_key, .. } => {
            h.push_str(&format!(
                "<div class=\"verdict ok\"><strong>{}</strong> tinledger verified this certificate file before \
             rendering this page, trusting the authority key <span class=\"mono\">{}</span>{}: checkpoint signature, \
             every inclusion proof and event signature, the custody rules, the summary and the exporter's signature. \
             Keep the file: it, not this page, is the evidence.</div>\n",
                bi("Verified when rendered", "Terverifikasi saat dirender"),
                esc(&authority_key.key_id()),
                view.map(|v| format!(" ({})", esc(&v.authority.name))).unwrap_or_default(),
            ))
        }
        Checked::Unverified => h.push_str(&format!(
            "<div class=\"verdict bad\" role=\"alert\"><strong>{}</strong> This page was rendered with \
             <code>--unverified</code>: nobody checked this certificate's signatures, proofs or summary, and what it \
             shows may be false. Do not rely on it; verify the file first (section <em>How to verify</em>).\
             <span class=\"bi\" lang=\"id\"> Halaman ini dibuat tanpa verifikasi: jangan mengandalkannya sebelum \
             berkasnya diverifikasi.</span></div>\n",
            bi("NOT VERIFIED", "TIDAK TERVERIFIKASI"),
        )),
    }
}

fn header(h: &mut String, c: &Certificate, cp_origin: &str, cp_size: &str) {
    let s = &c.summary;
    let l = &s.lot;
    h.push_str(&format!(
        "<header class=\"head\">\n<div class=\"brand\"><div class=\"tile\" aria-hidden=\"true\"><span class=\"z\">50</span>\
         <span class=\"sym\">Sn</span><span class=\"nm\">Tin</span></div>\n<div><p class=\"kicker\">Signed custody \
         ledger \u{00b7} chain of custody record</p><h1>Certificate of tin provenance</h1>\
         <p class=\"h1id\" lang=\"id\">Sertifikat Asal Timah</p></div></div>\n\
         <div class=\"lotbox\"><div class=\"lbl\">Lot</div><div class=\"lot{}\">{}</div><div class=\"state\">{}</div></div>\n\
         </header>\n",
        if c.lot.as_str().len() > 24 { " long" } else { "" },
        esc(c.lot.as_str()),
        state_bi(&l.state)
    ));
    let (d, t) = date_time(&c.issued_at);
    h.push_str("<dl class=\"facts\">\n");
    fact(h, &bi("Material", "Bahan"), esc(&capitalise(l.material.as_str())), None, "big");
    fact(h, &bi("Mass", "Massa"), esc(&format_mass(l.mass_g)), Some(format!("{} g", group(l.mass_g))), "big");
    fact(
        h,
        &bi("Grade", "Kadar"),
        esc(&grade(l.grade_ppm)),
        l.grade_ppm.map(|g| format!("{} ppm", group(u64::from(g)))),
        "big",
    );
    fact(
        h,
        &bi("Contained tin", "Kandungan timah"),
        esc(&format_mass(s.contained_tin_g)),
        Some(format!("{} g Sn", group(s.contained_tin_g))),
        "big",
    );
    fact(
        h,
        &bi("Exporter (issuer)", "Eksportir (penerbit)"),
        format!("<span class=\"mono\">{}</span>", esc(c.exporter.as_str())),
        None,
        "",
    );
    fact(
        h,
        &bi("Issued", "Diterbitkan"),
        format!("{} {} UTC", esc(&d), esc(&t)),
        Some(esc(&wib(&c.issued_at, &d))),
        "",
    );
    fact(h, &bi("Checkpoint tree size", "Ukuran pohon checkpoint"), esc(cp_size), Some("ledger entries".into()), "");
    fact(
        h,
        &bi("Entries included", "Entri disertakan"),
        group(c.entries.len() as u64),
        Some("each with an inclusion proof".into()),
        "",
    );
    h.push_str(&format!(
        "<div class=\"span2\"><dt>{}</dt><dd><span class=\"mono\">{}</span></dd></div>\n\
         <div class=\"span2\"><dt>{}</dt><dd><span class=\"mono\">{}</span></dd></div>\n",
        bi("Ledger id", "ID buku besar"),
        esc(&c.ledger_id.to_hex()),
        bi("Checkpoint origin", "Asal checkpoint"),
        esc(cp_origin)
    ));
    h.push_str("</dl>\n");
}

/// One `<div><dt>…</dt><dd>…</dd></div>` of a facts list.
fn fact(h: &mut String, label: &str, value: String, sub: Option<String>, class: &str) {
    h.push_str(&format!("<div><dt>{label}</dt><dd class=\"{class}\">{value}"));
    if let Some(sub) = sub {
        h.push_str(&format!("<span class=\"sub\">{sub}</span>"));
    }
    h.push_str("</dd></div>\n");
}

/// The authority's name and key fingerprint (the ledger's key id: the first
/// 8 bytes of SHA-256 of the 32-byte Ed25519 key, hex).
fn authority(h: &mut String, checked: &Checked, view: &Result<CertView, String>) {
    h.push_str("<dl class=\"facts auth\">\n");
    match view {
        Ok(v) => fact(
            h,
            &bi("Ledger authority", "Otoritas buku besar"),
            esc(&v.authority.name),
            Some(format!("<span class=\"mono\">{}</span>", esc(v.authority.id.as_str()))),
            "",
        ),
        Err(e) => fact(
            h,
            &bi("Ledger authority", "Otoritas buku besar"),
            "<span class=\"muted\">cannot be read from the entries</span>".into(),
            Some(esc(e)),
            "",
        ),
    }
    let (key, how) = match (checked, view) {
        (Checked::Verified { authority_key } | Checked::VerifiedWithPolicy { authority_key, .. }, _) => {
            (Some(*authority_key), "the trusted key that opened the checkpoint")
        }
        (Checked::Unverified, Ok(v)) => (Some(v.authority.key), "as the certificate's entries state it (not checked)"),
        (Checked::Unverified, Err(_)) => (None, ""),
    };
    match key {
        Some(k) => h.push_str(&format!(
            "<div class=\"span3\"><dt>{}</dt><dd><span class=\"mono fp\">{}</span><span class=\"sub\">key id: first 8 \
             bytes of SHA-256 of the Ed25519 key, {how}; key <span class=\"mono\">{}</span></span></dd></div>\n",
            bi("Authority key fingerprint", "Sidik jari kunci otoritas"),
            esc(&k.key_id()),
            esc(&k.to_hex())
        )),
        None => h.push_str(&format!(
            "<div class=\"span3\"><dt>{}</dt><dd class=\"muted\">unknown</dd></div>\n",
            bi("Authority key fingerprint", "Sidik jari kunci otoritas")
        )),
    }
    if let Checked::VerifiedWithPolicy { witnesses, quorum, .. } = checked {
        let names = if witnesses.is_empty() { "none needed".to_string() } else { witnesses.join(", ") };
        h.push_str(&format!(
            "<div class=\"span3\"><dt>{}</dt><dd>{}<span class=\"sub\">their cosignatures on the checkpoint verified \
             and meet the trust policy's quorum: {}</span></dd></div>\n",
            bi("Witnesses that cosigned", "Saksi yang ikut menandatangani"),
            esc(&names),
            esc(quorum)
        ));
    }
    h.push_str("</dl>\n");
}

/// The certificate file's SHA-256, short and in full, and as a QR code.
fn file_hash(h: &mut String, file: &[u8]) {
    let full = file_sha256(file);
    h.push_str(&format!(
        "<div class=\"quote keep\">{}<div><div class=\"qlbl\">{}</div>\
         <div class=\"short mono\">{}</div><div class=\"full mono\">SHA-256 {}</div>\
         <p class=\"note\">Quote the short hash when referring to this certificate. Anyone holding the file can \
         recompute it: <code>sha256sum FILE</code> (or <code>certutil -hashfile FILE SHA256</code>) prints the full \
         value; it must match, digit for digit. The QR code holds <code>sha256:</code> and the full value.\
         <span class=\"bi\" lang=\"id\"> Kutip hash pendek ini saat merujuk sertifikat; hitung ulang dari berkasnya \
         dengan <code>sha256sum</code>.</span></p></div></div>\n",
        qr_svg(&qr_text(&full)),
        bi("Certificate file hash", "Hash berkas sertifikat"),
        esc(&short_hash(&full)),
        esc(&full),
    ));
}

fn section_head(h: &mut String, n: &mut u32, title: &str, aside: &str) {
    *n += 1;
    h.push_str(&format!("<h2><span class=\"n\">{n}</span><span class=\"t\">{title}</span>"));
    if !aside.is_empty() {
        h.push_str(&format!("<span class=\"aside\">{aside}</span>"));
    }
    h.push_str("</h2>\n");
}

fn export(h: &mut String, n: &mut u32, s: &Summary) {
    h.push_str("<section>\n");
    section_head(h, n, &bi("Export", "Ekspor"), "");
    match &s.export {
        Some(x) => {
            h.push_str("<div class=\"box\"><dl>\n");
            let item = |h: &mut String, label: &str, value: String, wide: bool| {
                let class = if wide { " class=\"wide\"" } else { "" };
                h.push_str(&format!("<div{class}><dt>{label}</dt><dd>{value}</dd></div>\n"));
            };
            item(h, &bi("Destination country", "Negara tujuan"), esc(&x.destination), false);
            item(h, &bi("HS code", "Kode HS"), format!("<span class=\"mono\">{}</span>", esc(&x.hs_code)), false);
            item(h, &bi("Export permit", "Izin ekspor"), format!("<span class=\"mono\">{}</span>", esc(&x.permit)), false);
            item(h, &bi("Surveyor report", "Laporan surveyor"), format!("<span class=\"mono\">{}</span>", esc(&x.surveyor_report)), false);
            item(h, &bi("Consignee", "Penerima barang"), esc(&x.consignee), true);
            item(h, &bi("Exported", "Diekspor"), esc(&utc(&x.at)), false);
            item(
                h,
                &bi("Exporter", "Eksportir"),
                format!("<span class=\"mono\">{}</span><span class=\"sub\">ledger entry {}</span>", esc(x.exporter.as_str()), x.seq),
                false,
            );
            h.push_str("</dl></div>\n");
        }
        None => h.push_str(&format!(
            "<div class=\"box\"><p style=\"margin:0\">No export is recorded for this lot. Its state is <strong>{}</strong>, \
             held by <span class=\"mono\">{}</span>.</p></div>\n",
            esc(&state_label(&s.lot.state).to_lowercase()),
            esc(s.lot.custodian.as_str())
        )),
    }
    h.push_str("</section>\n");
}

fn warnings(h: &mut String, n: &mut u32, s: &Summary) {
    h.push_str("<section>\n");
    section_head(h, n, &bi("Flags and warnings", "Tanda dan peringatan"), "on this lot and every lot it was made from");
    if s.flags.is_empty() && s.untrusted_entries.is_empty() {
        h.push_str(
            "<div class=\"alert clear\"><h3>None recorded</h3>No mass discrepancy or assay disagreement was flagged, \
             and no included entry is signed with a key later reported compromised.</div>\n",
        );
    }
    if !s.untrusted_entries.is_empty() {
        let n = s.untrusted_entries.len();
        h.push_str(&format!(
            "<div class=\"alert red\"><h3>Untrusted entries: {n} included {} signed with a key later reported \
             compromised</h3><p style=\"margin:0 0 6px\">The ledger accepted {}, but the signer's key was later \
             reported compromised: someone other than the signer may have made {}. Treat what {} as \
             unconfirmed.</p><ul>\n",
            if n == 1 { "entry is" } else { "entries are" },
            if n == 1 { "it" } else { "them" },
            if n == 1 { "it" } else { "them" },
            if n == 1 { "it records" } else { "they record" },
        ));
        for seq in &s.untrusted_entries {
            match s.timeline.iter().find(|t| t.seq == *seq) {
                Some(t) => h.push_str(&format!(
                    "<li>Entry {seq}, {}, signed by <span class=\"mono\">{}</span>: {}</li>\n",
                    esc(&utc(&t.at)),
                    esc(t.signer.as_str()),
                    esc(&t.description)
                )),
                None => h.push_str(&format!("<li>Entry {seq} (an actor record, not a custody event)</li>\n")),
            }
        }
        h.push_str("</ul></div>\n");
    }
    if !s.flags.is_empty() {
        h.push_str(&format!(
            "<div class=\"alert amber\"><h3>{} {} raised by the ledger's rules</h3><ul>\n",
            s.flags.len(),
            if s.flags.len() == 1 { "flag" } else { "flags" }
        ));
        for f in &s.flags {
            h.push_str(&format!("<li>{}</li>\n", flag_text(f)));
        }
        h.push_str(
            "</ul><p class=\"note\" style=\"color:inherit\">A flag does not stop custody; it records a difference \
             beyond the ledger's tolerance that the buyer may want explained.</p></div>\n",
        );
    }
    h.push_str("</section>\n");
}

fn flag_text(f: &Flag) -> String {
    match f {
        Flag::MassDiscrepancy { seq, lot, dispatched_g, received_g } => {
            let (more, diff) = if received_g >= dispatched_g {
                ("more", received_g - dispatched_g)
            } else {
                ("less", dispatched_g - received_g)
            };
            format!(
                "<strong>Mass discrepancy</strong> on lot <span class=\"mono\">{}</span> (entry {seq}): dispatched {}, \
                 received {} \u{2014} {} {more} than dispatched.",
                esc(lot.as_str()),
                esc(&format_mass(*dispatched_g)),
                esc(&format_mass(*received_g)),
                esc(&format_mass(diff)),
            )
        }
        Flag::AssayDisagrees { seq, lot, declared_ppm, assayed_ppm } => format!(
            "<strong>Assay disagrees with the declared grade</strong> on lot <span class=\"mono\">{}</span> (entry {seq}): \
             declared {}, assayed {}.",
            esc(lot.as_str()),
            esc(&format_grade(*declared_ppm)),
            esc(&format_grade(*assayed_ppm)),
        ),
    }
}

fn extraction(e: &Extraction, o: &Origin, view: Option<&CertView>) -> String {
    // The corrected values, with the ones the extract recorded noted.
    let (mut mass_g, mut grade_ppm, mut noted) = (e.mass_g, e.grade_ppm, Vec::new());
    for c in view.into_iter().flat_map(|v| v.corrections_of(e.seq)) {
        mass_g = c.mass_g.map_or(mass_g, |m| m.new);
        grade_ppm = c.grade_ppm.map(|g| g.new).or(grade_ppm);
        noted.push(c.seq.to_string());
    }
    let mut x = format!(
        "<li><span class=\"lot\">{}</span> <span class=\"muted\">\u{00b7} entry {}</span><br>\
         {} \u{00b7} {}<span class=\"sub\">{}</span>",
        esc(e.lot.as_str()),
        e.seq,
        esc(&format_mass(mass_g)),
        esc(&grade(grade_ppm)),
        esc(&utc(&e.at)),
    );
    if !noted.is_empty() {
        x.push_str(&format!(
            "<span class=\"sub corrected\">{} {}; recorded as {} \u{00b7} {}</span>",
            bi("Corrected at entry", "Dikoreksi pada entri"),
            noted.join(", "),
            esc(&format_mass(e.mass_g)),
            esc(&grade(e.grade_ppm)),
        ));
    }
    if o.licence.as_deref() != Some(e.licence.as_str()) {
        x.push_str(&format!("<span class=\"sub\">under licence {}</span>", breakable(&e.licence)));
    }
    if o.location != Some(e.location) {
        x.push_str(&format!(
            "<span class=\"sub\">at {} (<a class=\"map\" rel=\"noreferrer\" href=\"{}\">map&nbsp;&#8599;</a>)</span>",
            coords(&e.location),
            esc(&osm_url(&e.location))
        ));
    }
    x.push_str("</li>");
    x
}

fn origins(h: &mut String, n: &mut u32, s: &Summary, view: Option<&CertView>) {
    h.push_str("<section>\n");
    section_head(
        h,
        n,
        &bi("Origin mines", "Tambang asal"),
        &format!("{} {}", s.origins.len(), if s.origins.len() == 1 { "mine" } else { "mines" }),
    );
    h.push_str(&format!(
        "<table class=\"origins\">\n<colgroup><col class=\"c-mine\"><col class=\"c-lic\"><col class=\"c-loc\"><col class=\"c-ext\">\
         <col class=\"c-share\"><col class=\"c-tin\"></colgroup>\n<thead><tr><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th></tr></thead>\n<tbody>\n",
        bi("Mine", "Tambang"),
        bi("IUP licence", "Izin IUP"),
        bi("Location (WGS84)", "Lokasi"),
        bi("Extraction lots", "Lot penambangan"),
        bi("Share", "Bagian"),
        bi("Attributed tin", "Timah teratribusi"),
    ));
    let mut sum_ppb: u64 = 0;
    let mut sum_g: u64 = 0;
    for (i, o) in s.origins.iter().enumerate() {
        sum_ppb = sum_ppb.saturating_add(o.share_ppb);
        sum_g = sum_g.saturating_add(o.tin_g);
        let exts: String = o.extractions.iter().map(|e| extraction(e, o, view)).collect();
        h.push_str(&format!(
            "<tr><td><span class=\"sw\" style=\"background:{}\"></span><span class=\"id\">{}</span><span class=\"sub\">{}</span></td>\
             <td class=\"mono\">{}</td><td>{}</td><td><ul class=\"ext\">{}</ul></td><td class=\"num\"><strong>{}</strong></td>\
             <td class=\"num\">{}<span class=\"sub\">{} g</span></td></tr>\n",
            colour(i),
            esc(o.mine.as_str()),
            esc(&o.name),
            o.licence.as_deref().map(breakable).unwrap_or_else(|| "<span class=\"muted\">none registered</span>".into()),
            place(o.location.as_ref()),
            exts,
            esc(&pct(o.share_ppb)),
            esc(&format_mass(o.tin_g)),
            group(o.tin_g)
        ));
    }
    if s.origins.is_empty() {
        h.push_str("<tr><td colspan=\"6\" class=\"muted\">No origin mine is recorded for this lot.</td></tr>\n");
    }
    h.push_str("</tbody>\n");
    if !s.origins.is_empty() {
        h.push_str(&format!(
            "<tfoot><tr><td colspan=\"4\">Total / Jumlah (contained tin of the lot: {} g)</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}<span class=\"sub\">{} g</span></td></tr></tfoot>\n",
            group(s.contained_tin_g),
            esc(&pct(sum_ppb)),
            esc(&format_mass(sum_g)),
            group(sum_g)
        ));
    }
    h.push_str(
        "</table>\n<p class=\"note\">Shares are of the lot's contained tin, carried through every merge, smelt and \
         split by tin content in exact integer arithmetic (parts per billion). Percentages are rounded to three decimals \
         and each row's tin is rounded down to whole grams, so the rows need not add up exactly to the total. Licences and \
         locations are those registered for the mine in the ledger.</p>\n</section>\n",
    );
}

fn attribution(h: &mut String, n: &mut u32, s: &Summary) {
    if s.origins.is_empty() {
        return;
    }
    h.push_str("<section>\n");
    section_head(
        h,
        n,
        &bi("Attribution of contained tin", "Atribusi kandungan timah"),
        "share of the lot's tin by mine of origin",
    );
    h.push_str("<div class=\"stack\" aria-hidden=\"true\">");
    for (i, o) in s.origins.iter().enumerate() {
        h.push_str(&format!("<span style=\"width:{};background:{}\"></span>", width(o.share_ppb), colour(i)));
    }
    h.push_str("</div>\n<div class=\"bars\">\n");
    for (i, o) in s.origins.iter().enumerate() {
        h.push_str(&format!(
            "<div class=\"who\"><span class=\"sw\" style=\"background:{c}\"></span><span class=\"id\">{}</span>\
             <span class=\"sub\">{}</span></div>\n<div class=\"track\"><div class=\"fill\" style=\"width:{};background:{c}\">\
             </div></div>\n<div class=\"pct\">{}</div>\n<div class=\"g\">{}<span class=\"sub\" style=\"display:block;font-size:11px\">{} ppb</span></div>\n",
            esc(o.mine.as_str()),
            esc(&o.name),
            width(o.share_ppb),
            esc(&pct(o.share_ppb)),
            esc(&format_mass(o.tin_g)),
            group(o.share_ppb),
            c = colour(i),
        ));
    }
    h.push_str("</div>\n</section>\n");
}

/// `part / whole` as a percentage with two decimals, rounded down.
fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "\u{2014}".into();
    }
    let bp = u128::from(part) * 10_000 / u128::from(whole);
    format!("{}.{:02}%", bp / 100, bp % 100)
}

/// Who stated a grade, and how (HTML).
fn grade_source(src: Option<&GradeSource>) -> String {
    let Some(g) = src else { return "<span class=\"muted\">not stated</span>".into() };
    let by = format!("<span class=\"mono\">{}</span>", esc(g.by.as_str()));
    let corrected = g
        .corrected_by
        .map(|c| format!("<span class=\"sub\">{} {c}</span>", bi("corrected at entry", "dikoreksi pada entri")))
        .unwrap_or_default();
    let stated = match &g.basis {
        GradeBasis::Declared => {
            format!("{} by {by}<span class=\"sub\">entry {}</span>", bi("Declared", "Dinyatakan"), g.seq)
        }
        GradeBasis::Assayed { method, report } => format!(
            "{} by {by}<span class=\"sub\">entry {}, method {}, report <span class=\"mono\">{}</span></span>",
            bi("Assayed", "Hasil uji"),
            g.seq,
            esc(method),
            esc(report)
        ),
        GradeBasis::Merged => format!(
            "{}<span class=\"sub\">mass-weighted mean of merge entry {} by {by}</span>",
            bi("Merged", "Campuran"),
            g.seq
        ),
    };
    stated + &corrected
}

/// A correction's values (`mass A -> B`) as HTML, with a real arrow.
fn arrows(values: &str) -> String {
    esc(&values.replace(" -> ", " \u{2192} "))
}

/// Every correction of an entry on the lineage: which entry, old and new
/// values, the reason. No section when there is none.
fn corrections(h: &mut String, n: &mut u32, view: Option<&CertView>) {
    let Some(v) = view.filter(|v| !v.corrections.is_empty()) else { return };
    h.push_str("<section>\n");
    section_head(
        h,
        n,
        &bi("Corrections", "Koreksi"),
        &match v.corrections.len() {
            1 => "1 signed correction of a mis-keyed value".to_string(),
            n => format!("{n} signed corrections of mis-keyed values"),
        },
    );
    h.push_str(&format!(
        "<table class=\"grades corrections\">\n<thead><tr><th class=\"num\">{}</th><th class=\"num\">{}</th><th>{}</th>\
         <th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        bi("Entry", "Entri"),
        bi("Corrects entry", "Mengoreksi entri"),
        bi("Lot", "Lot"),
        bi("Old \u{2192} new", "Lama \u{2192} baru"),
        bi("Reason", "Alasan"),
    ));
    for c in &v.corrections {
        h.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}<span class=\"sub\">{}</span></td><td class=\"mono\">{}</td>\
             <td>{}</td><td>{}</td></tr>\n",
            c.seq,
            c.entry,
            esc(c.entry_kind.unwrap_or("")),
            esc(c.lot.as_str()),
            arrows(&c.values()),
            esc(&c.reason),
        ));
    }
    h.push_str(
        "</tbody>\n</table>\n<p class=\"note\">A correction is a signed entry by the signer of the corrected entry, \
         made before anything used the lot's value (docs/model.md, \"Corrections\"). The corrected entry stays in the \
         ledger as recorded; the lot, the shares and this page use the new value.</p>\n</section>\n",
    );
}

/// The page can say nothing more than the summary when the entries do not replay.
fn view_unavailable(h: &mut String, e: &str) {
    h.push_str(&format!(
        "<p class=\"muted\">Not available: the certificate's entries do not replay ({}).</p>\n</section>\n",
        esc(e)
    ));
}

fn grades_used(h: &mut String, n: &mut u32, view: &Result<CertView, String>) {
    h.push_str("<section>\n");
    section_head(
        h,
        n,
        &bi("Grades used in the attribution", "Kadar yang dipakai dalam atribusi"),
        "each input of every merge, smelt and manufacture",
    );
    let v = match view {
        Ok(v) => v,
        Err(e) => return view_unavailable(h, e),
    };
    if v.steps.is_empty() {
        h.push_str("<p class=\"muted\">No merge, smelt or manufacture is in this lot's history: each mine's share is its extraction's.</p>\n</section>\n");
        return;
    }
    h.push_str(&format!(
        "<table class=\"grades\">\n<thead><tr><th class=\"num\">{}</th><th>{}</th><th>{}</th><th class=\"num\">{}</th>\
         <th class=\"num\">{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        bi("Entry", "Entri"),
        bi("Step", "Tahap"),
        bi("Input lot", "Lot masukan"),
        bi("Mass", "Massa"),
        bi("Grade used", "Kadar dipakai"),
        bi("Grade stated by", "Kadar dinyatakan oleh"),
    ));
    for st in &v.steps {
        for i in &st.inputs {
            h.push_str(&format!(
                "<tr><td class=\"num\">{}</td><td><span class=\"kind k-{}\">{}</span></td><td class=\"mono\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\"><strong>{}</strong></td><td>{}</td></tr>\n",
                st.seq,
                st.kind,
                st.kind,
                esc(i.lot.as_str()),
                esc(&format_mass(i.mass_g)),
                esc(&grade(i.grade_ppm)),
                grade_source(i.source.as_ref()),
            ));
        }
    }
    h.push_str(
        "</tbody>\n</table>\n<p class=\"note\">A merge, smelt or manufacture passes its inputs' shares on weighted by \
         contained tin (mass \u{00d7} the grade shown) when every input has a grade, else by mass. An assay replaces \
         the declared grade; a split part keeps its source lot's.</p>\n</section>\n",
    );
}

fn mass_balance(h: &mut String, n: &mut u32, view: &Result<CertView, String>) {
    h.push_str("<section>\n");
    section_head(h, n, &bi("Smelt mass balance", "Neraca massa peleburan"), "inputs, outputs, yield and tin recovered");
    let v = match view {
        Ok(v) => v,
        Err(e) => return view_unavailable(h, e),
    };
    let smelts: Vec<&Step> = v.steps.iter().filter(|s| s.kind != "merge").collect();
    if smelts.is_empty() {
        h.push_str("<p class=\"muted\">No smelt or manufacture is in this lot's history.</p>\n</section>\n");
        return;
    }
    let tin = |t: Option<u64>| t.map(format_mass).map(|m| esc(&m)).unwrap_or_else(|| "unknown".into());
    for st in smelts {
        let (m_in, m_out) = st.mass_balance();
        let (t_in, t_out) = st.tin_balance();
        let (d, tm) = date_time(&st.at);
        h.push_str(&format!(
            "<div class=\"balance\"><h3>Entry {} \u{00b7} <span class=\"kind k-{}\">{}</span> by <span class=\"mono\">{}</span> \
             <span class=\"muted\">\u{00b7} {} {} UTC \u{00b7} {}</span></h3>\n<table class=\"bal\">\n<colgroup><col class=\"b-side\">\
             <col class=\"b-lot\"><col class=\"b-mass\"><col class=\"b-grade\"><col class=\"b-tin\"></colgroup>\n<thead><tr><th>{}</th><th>{}</th>\
             <th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th></tr></thead>\n<tbody>\n",
            st.seq,
            st.kind,
            st.kind,
            esc(st.signer.as_str()),
            esc(&d),
            esc(&tm),
            esc(&wib(&st.at, &d)),
            bi("Side", "Sisi"),
            bi("Lot", "Lot"),
            bi("Mass", "Massa"),
            bi("Grade", "Kadar"),
            bi("Tin", "Timah"),
        ));
        for i in &st.inputs {
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                bi("In", "Masuk"),
                esc(i.lot.as_str()),
                esc(&format_mass(i.mass_g)),
                esc(&grade(i.grade_ppm)),
                tin(certview::tin_g(i.mass_g, i.grade_ppm)),
            ));
        }
        for o in &st.outputs {
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"mono\">{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                bi("Out", "Keluar"),
                esc(o.lot.as_str()),
                o.material.map(|m| format!(" <span class=\"muted\">({})</span>", esc(m.as_str()))).unwrap_or_default(),
                esc(&format_mass(o.mass_g)),
                esc(&grade(o.grade_ppm)),
                tin(certview::tin_g(o.mass_g, o.grade_ppm)),
            ));
        }
        let recovery = match (t_in, t_out) {
            (Some(a), Some(b)) => ratio(b, a),
            _ => "\u{2014}".into(),
        };
        let total = |h: &mut String, label: String, mass: String, tin: String| {
            h.push_str(&format!(
                "<tr><td colspan=\"2\">{label}</td><td class=\"num\">{mass}</td><td></td><td class=\"num\">{tin}</td></tr>\n"
            ))
        };
        h.push_str("</tbody>\n<tfoot>\n");
        total(h, bi("Total in", "Jumlah masuk"), esc(&format_mass(m_in)), tin(t_in));
        total(h, bi("Total out", "Jumlah keluar"), esc(&format_mass(m_out)), tin(t_out));
        total(
            h,
            format!("{} \u{00b7} {}", bi("Yield", "Rendemen"), bi("tin recovered", "timah terambil")),
            ratio(m_out, m_in),
            recovery,
        );
        h.push_str("</tfoot>\n</table></div>\n");
    }
    h.push_str(
        "<p class=\"note\">Yield is output mass over input mass; tin recovered is output tin over input tin (tin = mass \
         \u{00d7} grade, rounded down to whole grams). The ledger's rules refuse a smelt whose output tin exceeds its \
         input tin by more than 1 %.</p>\n</section>\n",
    );
}

fn smelters(h: &mut String, n: &mut u32, list: &[SmelterSummary]) {
    h.push_str("<section>\n");
    section_head(h, n, &bi("Smelters", "Smelter (peleburan)"), "");
    if list.is_empty() {
        h.push_str("<p class=\"muted\">No smelter is recorded in this lot's history.</p>\n</section>\n");
        return;
    }
    h.push_str(&format!(
        "<table>\n<thead><tr><th style=\"width:34%\">{}</th><th style=\"width:18%\">{}</th>\
         <th style=\"width:26%\">{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        bi("Smelter", "Smelter"),
        bi("RMI smelter ID (CID)", "ID smelter RMI"),
        bi("Location (WGS84)", "Lokasi"),
        bi("Smelting entries", "Entri peleburan"),
    ));
    for sm in list {
        let seqs: Vec<String> = sm.smelts.iter().map(u64::to_string).collect();
        h.push_str(&format!(
            "<tr><td><span class=\"id\">{}</span><span class=\"sub\">{}</span></td><td class=\"mono\"><strong>{}</strong></td>\
             <td>{}</td><td>entry {}</td></tr>\n",
            esc(sm.smelter.as_str()),
            esc(&sm.name),
            sm.rmi_cid.as_deref().map(esc).unwrap_or_else(|| "<span class=\"muted\">none registered</span>".into()),
            place(sm.location.as_ref()),
            esc(&seqs.join(", "))
        ));
    }
    h.push_str(
        "</tbody>\n</table>\n<p class=\"note\">The CID is the one registered for the smelter in the ledger; its \
         conformance status is published by the Responsible Minerals Initiative, not by this certificate.</p>\n\
         </section>\n",
    );
}

fn timeline(h: &mut String, n: &mut u32, s: &Summary, view: Option<&CertView>) {
    h.push_str("<section>\n");
    section_head(
        h,
        n,
        &bi("Custody timeline", "Kronologi rantai penguasaan"),
        &format!("{} custody events, oldest first", s.timeline.len()),
    );
    h.push_str(&format!(
        "<table class=\"tl\">\n<colgroup><col class=\"t-rail\"><col class=\"t-seq\"><col class=\"t-time\">\
         <col class=\"t-kind\"><col class=\"t-signer\"><col></colgroup>\n<thead><tr><th></th><th class=\"num\">{}</th>\
         <th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        bi("Entry", "Entri"),
        bi("Time", "Waktu"),
        bi("Event", "Peristiwa"),
        bi("Signed by", "Ditandatangani oleh"),
        bi("Description", "Keterangan"),
    ));
    let flagged = |t: &TimelineItem| {
        s.flags.iter().any(|f| match f {
            Flag::MassDiscrepancy { seq, .. } | Flag::AssayDisagrees { seq, .. } => *seq == t.seq,
        })
    };
    for t in &s.timeline {
        let untrusted = s.untrusted_entries.contains(&t.seq);
        let is_flagged = flagged(t);
        let class = if untrusted {
            " class=\"untrusted\""
        } else if is_flagged {
            " class=\"flagged\""
        } else {
            ""
        };
        let mut tags = String::new();
        if untrusted {
            tags.push_str("<span class=\"tag red\">UNTRUSTED KEY</span>");
        }
        if is_flagged {
            tags.push_str("<span class=\"tag amber\">FLAG</span>");
        }
        for c in view.into_iter().flat_map(|v| v.corrections_of(t.seq)) {
            tags.push_str(&format!("<span class=\"sub\">corrected at entry {}: {}</span>", c.seq, arrows(&c.values())));
        }
        if let Some(c) = view.and_then(|v| v.corrections.iter().find(|c| c.seq == t.seq)) {
            tags.push_str(&format!("<span class=\"sub\">{}</span>", arrows(&c.values())));
        }
        let kind_class: String = t.kind.chars().filter(char::is_ascii_alphanumeric).collect();
        let (d, tm) = date_time(&t.at);
        h.push_str(&format!(
            "<tr{class}><td class=\"rail\"></td><td class=\"num\">{}</td><td class=\"nowrap\">{}<span class=\"sub\">{} UTC</span>\
             <span class=\"sub\">{}</span></td>\
             <td><span class=\"kind k-{}\">{}</span></td><td class=\"mono\">{}</td><td>{}{tags}</td></tr>\n",
            t.seq,
            esc(&d),
            esc(&tm),
            esc(&wib(&t.at, &d)),
            kind_class,
            esc(&t.kind.replace('_', " ")),
            esc(t.signer.as_str()),
            esc(&t.description),
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn how_to_verify(h: &mut String, n: &mut u32, c: &Certificate, cp_origin: &str, cp_size: &str, cp_root: &str) {
    h.push_str("<section class=\"verify\">\n");
    section_head(h, n, &bi("How to verify", "Cara memverifikasi"), "");
    h.push_str(&format!(
        "<p><strong>This page proves nothing by itself.</strong> Anyone can edit an HTML file or print a convincing \
         page. What can be checked is the certificate file (JSON) this page was rendered from: it is signed by the \
         exporter, <span class=\"mono\">{}</span>, and every ledger entry in it is anchored in a checkpoint signed by \
         the ledger's authority. Obtain the authority's public key through a channel you trust (not from the exporter \
         and not from this page), then run, with no network access needed:</p>\n",
        esc(c.exporter.as_str())
    ));
    h.push_str(&format!(
        "<pre class=\"cmd\">{}</pre>\n",
        esc("tinledger cert verify <file> --authority-key <authority public key>")
    ));
    h.push_str(&format!(
        "<p>It prints <code>certificate OK</code> followed by the lot, origins, smelters and export it established; \
         compare them with this page. Any other answer means this page must not be relied on. Verification checks:</p>\n\
         <ol>\n\
         <li>the checkpoint below (tree size {size}) carries a valid signature by the authority key you supplied, \
         and that key belongs to the ledger's authority;</li>\n\
         <li>each of the {n} included entries is in the ledger, by its Merkle inclusion proof (RFC 9162) against that \
         signed checkpoint;</li>\n\
         <li>the signature of every event, by the key its signer had registered at the time;</li>\n\
         <li>the custody rules, replayed over the entries from the ledger's first entry: only the lot's holder \
         dispatches, splits, merges, smelts or exports it; what is received is what was dispatched; and no smelt, \
         merge or manufacture puts out more contained tin than went in;</li>\n\
         <li>the summary shown on this page (origins, shares, tin, smelters, timeline, export, flags, untrusted \
         entries) is recomputed from the entries and must match exactly;</li>\n\
         <li>the exporter's signature over the whole certificate, made with <span class=\"mono\">{exp}</span>'s \
         current registered key, and that the exporter held or exported the lot.</li>\n</ol>\n\
         <p>Verification establishes what was recorded and signed in the ledger, and by whom. It does not establish \
         that the physical goods match the records; that is what the surveyor report and inspection are for.</p>\n",
        size = esc(cp_size),
        n = group(c.entries.len() as u64),
        exp = esc(c.exporter.as_str())
    ));
    h.push_str(&format!(
        "<div class=\"keep\"><p style=\"margin-top:16px\"><strong>Checkpoint</strong> \u{2014} origin <span class=\"mono\">{}</span>, \
         tree size {}, root hash <span class=\"mono\">{}</span>. The signed note, as carried in the certificate:</p>\n\
         <pre>{}</pre>\n",
        esc(cp_origin),
        esc(cp_size),
        esc(cp_root),
        esc_pre(c.checkpoint.trim_end_matches('\n'))
    ));
    h.push_str(&format!(
        "<p style=\"margin-bottom:4px\"><strong>Exporter's signature</strong> (Ed25519, as in the file; to match this \
         printout to a certificate file):</p>\n<div class=\"sig\">{}</div></div>\n</section>\n",
        esc(&c.signature)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinledger_core::LotId;

    /// The demo's certificate (golden; `tinledger demo` writes the same file).
    const DEMO: &str = include_str!("../../../fixtures/certificates/demo-solder-007.cert.json");

    fn demo() -> Certificate {
        serde_json::from_str(DEMO).unwrap()
    }

    /// The demo authority's key (TEST key AUTH-BABEL).
    fn auth_key() -> PublicKey {
        PublicKey::from(&tinledger_core::testkeys::test_key("AUTH-BABEL"))
    }

    fn render(c: &Certificate) -> String {
        page(c, DEMO.as_bytes(), &Checked::Verified { authority_key: auth_key() })
    }

    const OSM: &str = "https://www.openstreetmap.org/?mlat=";

    #[test]
    fn demo_page_loads_nothing() {
        let html = render(&demo());
        let lower = html.to_ascii_lowercase();
        let osm = lower.matches(OSM).count();
        assert!(osm >= 3, "a map link per mine and smelter");
        assert!(!lower.contains("http:"), "plain http URL");
        for (i, _) in lower.match_indices("://") {
            let url = &lower[i.saturating_sub(5)..];
            assert!(url.starts_with(OSM), "URL other than a map link: {}", &url[..url.len().min(60)]);
        }
        for (i, _) in lower.match_indices("href=") {
            assert!(lower[i..].starts_with(&format!("href=\"{OSM}")), "link: {}", &html[i..(i + 60).min(html.len())]);
        }
        for bad in [
            "<script",
            "<link",
            "src=",
            "<img",
            "<iframe",
            "<object",
            "<embed",
            "<base",
            "<form",
            "<meta http-equiv=\"refresh",
            "@import",
            "url(",
            "@font-face",
            "srcset",
        ] {
            assert!(!lower.contains(bad), "page contains {bad:?}");
        }
        // No event-handler attributes in any tag.
        for tag in lower.split('<').skip(1).filter_map(|t| t.split_once('>').map(|(t, _)| t)) {
            assert!(!tag.split_whitespace().any(|a| a.starts_with("on") && a.contains('=')), "<{tag}>");
        }
        assert!(html.contains("content=\"default-src 'none'"));
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn demo_page_shows_the_summary() {
        let c = demo();
        let s = &c.summary;
        let html = render(&c);
        assert!(!s.origins.is_empty());
        for o in &s.origins {
            assert!(html.contains(&format!("<span class=\"id\">{}</span>", o.mine)), "mine {}", o.mine);
            assert!(html.contains(&esc(&o.name)));
            assert!(html.contains(&breakable(o.licence.as_deref().unwrap())));
            assert!(html.contains(&format!("<strong>{}</strong>", share_pct(o.share_ppb))));
            assert!(html.contains(&format!("{} g", group(o.tin_g))));
            for e in &o.extractions {
                assert!(html.contains(e.lot.as_str()));
            }
            let p = o.location.unwrap();
            assert!(html.contains(&esc(&osm_url(&p))));
        }
        assert!(html.contains("MINE-AIRGEGAS") && html.contains("MINE-KOBA"));
        for t in &s.timeline {
            assert!(html.contains(&format!("<td class=\"num\">{}</td>", t.seq)), "timeline entry {}", t.seq);
        }
        let x = s.export.as_ref().unwrap();
        for v in [&x.destination, &x.hs_code, &x.permit, &x.surveyor_report, &x.consignee] {
            assert!(html.contains(&esc(v)), "{v}");
        }
        assert!(html.contains("CID009001"));
        assert!(html.contains("Certificate of tin provenance"));
        assert!(html.contains(&format_mass(s.contained_tin_g)));
        assert!(html.contains(&format_grade(s.lot.grade_ppm.unwrap())));
        assert!(html.contains(&c.ledger_id.to_hex()));
        assert!(html.contains(&c.signature));
        assert!(html.contains("tinledger cert verify &lt;file&gt; --authority-key &lt;authority public key&gt;"));
        assert!(html.contains(&format!("<pre>{}</pre>", esc_pre(c.checkpoint.trim_end()))));
        assert!(html.contains("None recorded") && !html.contains("alert red") && !html.contains("alert amber"));
        assert!(html.contains("@media print"));
    }

    #[test]
    fn certificate_text_is_escaped() {
        let evil = "<b>&\"";
        let mut c = demo();
        c.summary.origins[0].name = evil.into();
        c.summary.origins[1].licence = Some(format!("{evil}</td><script>alert(1)</script>"));
        c.summary.smelters[0].rmi_cid = Some(evil.into());
        let x = c.summary.export.as_mut().unwrap();
        x.consignee = "\"><img src=x onerror=alert(1)>".into();
        x.permit = evil.into();
        c.summary.timeline[0].description = format!("{evil}<link rel=stylesheet href=//evil.example/x.css>");
        c.checkpoint = format!("{evil}\n{}", c.checkpoint);
        c.signature = evil.into();
        c.format = evil.into();
        let html = render(&c);
        assert!(!html.contains(evil), "unescaped certificate text");
        assert!(html.contains("&lt;b&gt;&amp;&quot;"));
        let lower = html.to_ascii_lowercase();
        for bad in ["<script", "<img", "<link"] {
            assert!(!lower.contains(bad), "{bad}");
        }
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&lt;link rel=stylesheet href=//evil.example/x.css&gt;"));
        assert_eq!(esc("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn hidden_characters_are_made_visible() {
        assert_eq!(esc("a\u{202E}b\u{0}c\u{2066}d"), "a[U+202E]b[U+0000]c[U+2066]d");
        assert_eq!(esc("two\nlines"), "two[U+000A]lines");
        assert_eq!(esc_pre("two\nlines"), "two\nlines");
        assert_eq!(esc("Bangka–Belitung °"), "Bangka–Belitung °");
    }

    #[test]
    fn flags_and_untrusted_entries_are_boxed_and_marked() {
        let mut c = demo();
        let lot = LotId::new("AGG-2026-0001").unwrap();
        let seq = c.summary.timeline[1].seq;
        c.summary.flags = vec![
            Flag::MassDiscrepancy { seq, lot: lot.clone(), dispatched_g: 1_200_000, received_g: 1_176_000 },
            Flag::AssayDisagrees { seq: 26, lot, declared_ppm: 620_000, assayed_ppm: 550_000 },
        ];
        c.summary.untrusted_entries = vec![3, c.summary.timeline[0].seq];
        let html = render(&c);
        assert!(html.contains("<div class=\"alert amber\"><h3>2 flags"));
        assert!(html.contains("dispatched 1,200.000 kg, received 1,176.000 kg \u{2014} 24.000 kg less than dispatched"));
        assert!(html.contains("declared 62.00% Sn, assayed 55.00% Sn"));
        assert!(html.contains("<div class=\"alert red\"><h3>Untrusted entries: 2 included entries"));
        assert!(html.contains("<li>Entry 3 (an actor record, not a custody event)</li>"));
        assert!(html.contains("<tr class=\"untrusted\">") && html.contains("<tr class=\"flagged\">"));
        assert!(!html.contains("None recorded"));
    }

    #[test]
    fn odd_certificates_still_render() {
        let mut c = demo();
        c.summary.origins[0].share_ppb = u64::MAX;
        c.summary.export = None;
        c.summary.smelters.clear();
        c.summary.origins[1].location = None;
        c.summary.origins[1].licence = None;
        c.checkpoint = String::new();
        let html = render(&c);
        assert!(html.contains("invalid (18,446,744,073,709,551,615 ppb)"));
        assert!(html.contains("width:100.000%"));
        assert!(html.contains("No export is recorded for this lot"));
        assert!(html.contains("No smelter is recorded"));
        assert!(html.contains("none registered") && html.contains("not registered"));
        c.summary.origins.clear();
        c.summary.timeline.clear();
        assert!(render(&c).contains("No origin mine is recorded"));
    }

    #[test]
    fn helpers() {
        assert_eq!(group(0), "0");
        assert_eq!(group(993_950), "993,950");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(date_time(&"2026-03-05T06:00:00Z".parse().unwrap()), ("2026-03-05".into(), "06:00".into()));
        assert_eq!(date_time(&"2026-03-05T06:00:07Z".parse().unwrap()), ("2026-03-05".into(), "06:00:07".into()));
        let p: GeoPoint = "-2.8512,106.2314".parse().unwrap();
        assert_eq!(
            osm_url(&p),
            "https://www.openstreetmap.org/?mlat=-2.851200&mlon=106.231400#map=13/-2.851200/106.231400"
        );
        assert_eq!(coords(&p), "2.851200°&#8239;S<br>106.231400°&#8239;E");
        assert_eq!(checkpoint_lines("o\n5\nroot\n\n— sig\n"), ("o", "5", "root"));
        assert_eq!(css_safe("A-1\"};x"), "A-1x");
        assert_eq!(breakable("IUP/1<"), "IUP/<wbr>1&lt;");
    }
}
