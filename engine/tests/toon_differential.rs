//! Our codec agrees with the official TOON implementations, used as oracles and never as
//! our codec: the TypeScript reference `@toon-format/toon` 4.4.0 (through
//! `tests/oracle/toon-oracle.mjs`, installed by `npm ci` there) and the Rust crate
//! `toon-format` 0.7. On thousands of seeded values our encoding is byte-identical to the
//! reference's, for all three delimiters and indents 2 and 4; our decoding of every encoding,
//! and of mutated encodings (strict mode), equals the reference's, member order included;
//! and decode(encode(v)) == v (as data: table rows take their header's member order).

mod common;

use std::process::Command;

use toonstore::toon::{self, DecodeOptions, Delimiter, EncodeOptions, Rule, Value};

use common::generate::Generator;
use common::{from_json, same_in_order};

const DOCUMENTS: u64 = 2500;
const OPTION_SETS: [(Delimiter, usize); 6] = [
    (Delimiter::Comma, 2),
    (Delimiter::Tab, 2),
    (Delimiter::Pipe, 2),
    (Delimiter::Comma, 4),
    (Delimiter::Tab, 4),
    (Delimiter::Pipe, 4),
];

fn delimiter_text(d: Delimiter) -> &'static str {
    match d {
        Delimiter::Comma => ",",
        Delimiter::Tab => "\t",
        Delimiter::Pipe => "|",
    }
}

/// One encode case: a document with one set of options.
struct Case {
    value: Value,
    options: EncodeOptions,
    encoded: String,
}

fn cases(seed: u64) -> Vec<Case> {
    cases_from(Generator::new(seed))
}

fn cases_from(mut generator: Generator) -> Vec<Case> {
    (0..DOCUMENTS)
        .map(|i| {
            let (delimiter, indent) = OPTION_SETS[i as usize % OPTION_SETS.len()];
            let options = EncodeOptions { delimiter, indent };
            let value = generator.document();
            let encoded = toon::encode_with(&value, &options);
            Case { value, options, encoded }
        })
        .collect()
}

/// Strict-mode decode inputs: each encoding, and each with one seeded mutation (a line
/// dropped, doubled, re-indented, a blank or comment line inserted, a character replaced).
fn decode_inputs(cases: &[Case], seed: u64) -> Vec<(String, usize)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut inputs = Vec::new();
    for case in cases {
        let indent = case.options.indent;
        inputs.push((case.encoded.clone(), indent));
        let mut lines: Vec<String> = case.encoded.split('\n').map(str::to_owned).collect();
        let at = rng.usize(..lines.len());
        match rng.u8(0..6) {
            0 if lines.len() > 1 => {
                lines.remove(at);
            }
            1 => lines.insert(at, lines[at].clone()),
            2 => lines[at] = format!("{}{}", " ".repeat(rng.usize(1..3)), lines[at]),
            3 => lines.insert(at, String::new()),
            4 => lines.insert(at, format!("{}# note", " ".repeat(rng.usize(0..5)))),
            _ => {
                let chars: Vec<char> = lines[at].chars().collect();
                if !chars.is_empty() {
                    let i = rng.usize(..chars.len());
                    let replacement = [',', '|', ':', '\t', '"', '-', '#', '[', ']', '{', '}', ' ']
                        [rng.usize(..12)];
                    lines[at] =
                        chars[..i].iter().chain([&replacement]).chain(&chars[i + 1..]).collect();
                }
            }
        }
        inputs.push((lines.join("\n"), indent));
    }
    inputs
}

fn run_typescript_oracle(request: &serde_json::Value) -> serde_json::Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oracle");
    assert!(
        root.join("node_modules/@toon-format/toon").is_dir(),
        "the TypeScript oracle is not installed: run `npm ci` in tests/oracle (the README's test command does)"
    );
    let request_path =
        std::env::temp_dir().join(format!("toon-oracle-{}.json", std::process::id()));
    std::fs::write(&request_path, serde_json::to_vec(request).unwrap()).unwrap();
    let output = Command::new("node")
        .arg(root.join("toon-oracle.mjs"))
        .arg(&request_path)
        .output()
        .expect("node runs the TypeScript oracle");
    std::fs::remove_file(&request_path).ok();
    assert!(output.status.success(), "oracle failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("oracle answers JSON")
}

#[test]
fn encoding_and_decoding_match_the_typescript_reference() {
    let cases = cases(0x700E);
    let decodes = decode_inputs(&cases, 7);
    let request = serde_json::json!({
        "encode": cases.iter().map(|c| serde_json::json!({
            "value": serde_json::Value::from(c.value.clone()),
            "delimiter": delimiter_text(c.options.delimiter),
            "indent": c.options.indent,
        })).collect::<Vec<_>>(),
        "decode": decodes.iter().map(|(text, indent)| serde_json::json!({
            "text": text, "strict": true, "indent": indent,
        })).collect::<Vec<_>>(),
    });
    let response = run_typescript_oracle(&request);

    let mut failures = Vec::new();
    for (case, answer) in cases.iter().zip(response["encode"].as_array().unwrap()) {
        match answer["text"].as_str() {
            Some(text) if text == case.encoded => {}
            other => failures.push(format!(
                "encode {:?} ({:?}): ours {:?}, reference {:?}",
                serde_json::Value::from(case.value.clone()).to_string(),
                case.options,
                case.encoded,
                other.map_or_else(|| answer.to_string(), str::to_owned)
            )),
        }
    }
    let mut errors_agreed = 0;
    for ((text, indent), answer) in decodes.iter().zip(response["decode"].as_array().unwrap()) {
        let ours = toon::decode_with(text, &DecodeOptions { strict: true, indent: *indent });
        match (ours, answer.get("value")) {
            (Ok(ours), Some(theirs)) if same_in_order(&ours, &from_json(theirs)) => {}
            (Err(_), None) => errors_agreed += 1,
            // Documented policy: integers that would be rounded are refused in strict mode.
            (Err(e), Some(_)) if e.rule == Rule::NumberRange => {}
            (ours, _) => {
                failures.push(format!("decode {text:?}: ours {ours:?}, reference {answer}"))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    assert!(
        errors_agreed > 100,
        "the mutations should produce errors both sides reject ({errors_agreed})"
    );
    println!(
        "{} encodings and {} decodings agree with the TypeScript reference ({errors_agreed} rejected by both)",
        cases.len(),
        decodes.len()
    );
}

#[test]
fn generated_documents_cover_every_form() {
    let cases = cases(0x700E);
    let all: String = cases.iter().map(|c| c.encoded.as_str()).collect::<Vec<_>>().join("\n");
    let forms = [
        ("keyed table", ":]{"),
        ("nested field group", "}}:"),
        ("tab delimiter", "\t]"),
        ("pipe delimiter", "|]"),
        ("list item", "- "),
        ("empty object item", "\n    -\n"),
        ("quoted string", "\""),
        ("escape", "\\n"),
        ("control escape", "\\u00"),
        ("float exponent", "e+21"),
        ("small exponent", "e-7"),
        ("empty array", ": []"),
    ];
    for (form, marker) in forms {
        assert!(all.contains(marker), "no {form} ({marker:?}) among the generated encodings");
    }
    let multi_digit_length =
        all.as_bytes().windows(3).any(|w| w[0] == b'[' && w[1..].iter().all(u8::is_ascii_digit));
    assert!(multi_digit_length, "no array of ten or more elements among the generated encodings");
}

/// toon-format 0.7 writes every number in plain decimal notation (`0.0000001`, never `1e-7`)
/// and integral floats beyond 2^53 with all their exact digits (`9847693055559249920`, not
/// JavaScript's `9847693055559250000`), unlike the TypeScript reference; so its comparison
/// keeps floats where all print the same digits.
#[test]
fn encoding_and_decoding_match_the_rust_reference() {
    let mut generator = Generator::new(0x7057);
    generator.plain_floats = true;
    let cases = cases_from(generator);
    let mut disagreements = Vec::new();
    let mut identical = 0;
    for case in &cases {
        let json = serde_json::Value::from(case.value.clone());
        let delimiter = match case.options.delimiter {
            Delimiter::Comma => toon_format::Delimiter::Comma,
            Delimiter::Tab => toon_format::Delimiter::Tab,
            Delimiter::Pipe => toon_format::Delimiter::Pipe,
        };
        let options = toon_format::EncodeOptions::new()
            .with_delimiter(delimiter)
            .with_spaces(case.options.indent);
        match toon_format::encode(&json, &options) {
            Ok(text) if text == case.encoded => identical += 1,
            // The same double spelled with other digits (toon-format is not always shortest).
            Ok(text)
                if toon::decode_with(
                    &text,
                    &DecodeOptions { strict: true, indent: case.options.indent },
                )
                .is_ok_and(|theirs| same_in_order(&theirs, &ours_decoded(case))) => {}
            other => disagreements
                .push(format!("encode {json}: ours {:?}, toon-format {other:?}", case.encoded)),
        }
        let decode_options = toon_format::DecodeOptions::new()
            .with_indent(toon_format::Indent::Spaces(case.options.indent));
        match toon_format::decode::<serde_json::Value>(&case.encoded, &decode_options) {
            Ok(theirs) if same_in_order(&from_json(&theirs), &ours_decoded(case)) => {}
            other => {
                disagreements.push(format!("decode {:?}: toon-format {other:?}", case.encoded))
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements with toon-format:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(20)].join("\n")
    );
    assert!(
        identical * 100 >= cases.len() * 99,
        "only {identical} of {} byte-identical",
        cases.len()
    );
    println!(
        "{} encodings and decodings agree with toon-format ({identical} byte-identical)",
        cases.len()
    );
}

#[test]
fn decoding_inverts_encoding_for_every_option_set() {
    let mut generator = Generator::new(0xDEC0DE);
    generator.wide_integers = true;
    for i in 0..DOCUMENTS * 2 {
        let value = generator.document();
        for (delimiter, indent) in OPTION_SETS {
            let text = toon::encode_with(&value, &EncodeOptions { delimiter, indent });
            for strict in [true, false] {
                let options = DecodeOptions { strict, indent };
                let back = toon::decode_with(&text, &options)
                    .unwrap_or_else(|e| panic!("document {i}: {e}\n{text}"));
                // Equal as data; table rows take the header's member order.
                assert_eq!(back, value, "document {i} changed:\n{text}");
                assert_eq!(toon::validate_with(&text, &options), Ok(()));
            }
        }
    }
}

fn ours_decoded(case: &Case) -> Value {
    toon::decode_with(&case.encoded, &DecodeOptions { strict: true, indent: case.options.indent })
        .expect("our encodings decode")
}

/// `is_canonical` is a proof when it says yes (`encode(decode(t)) == t`), on encodings and
/// on mutated encodings, and it says yes for most encoder output.
#[test]
fn canonical_check_is_sound_and_mostly_complete() {
    let mut generator = Generator::new(0xCA70);
    generator.wide_integers = true;
    let mut rng = fastrand::Rng::with_seed(0xCA71);
    let (mut proved, mut encodings, mut mutated_proofs) = (0, 0, 0);
    let mutations = [
        ",", ", ", " ", "  ", ":", "\"", "-", "0", "1.0", "[]", "\n", "\n  ", "# c\n", "\\u0041",
        "e",
    ];
    for _ in 0..DOCUMENTS * 2 {
        let value = generator.document();
        let text = toon::encode(&value);
        encodings += 1;
        match toon::is_canonical(&text) {
            Ok(true) => proved += 1,
            Ok(false) => {}
            Err(e) => panic!("canonical text failed the check: {e}\n{text}"),
        }
        for _ in 0..4 {
            let mut mutated = text.clone();
            let mut at = rng.usize(..=mutated.len());
            while !mutated.is_char_boundary(at) {
                at -= 1;
            }
            let end = (at + rng.usize(0..3)).min(mutated.len());
            let end = (end..=mutated.len()).find(|&e| mutated.is_char_boundary(e)).unwrap();
            mutated.replace_range(at..end, mutations[rng.usize(..mutations.len())]);
            if let Ok(true) = toon::is_canonical(&mutated) {
                mutated_proofs += 1;
                let decoded = toon::decode(&mutated).expect("a proof implies valid text");
                let stripped = mutated.strip_suffix('\n').unwrap_or(&mutated);
                assert_eq!(toon::encode(&decoded), stripped, "unsound proof for {mutated:?}");
            }
        }
    }
    println!(
        "{proved} of {encodings} encodings proved canonical; {mutated_proofs} mutated texts proved (and checked)"
    );
    assert!(
        proved * 10 >= encodings * 6,
        "only {proved} of {encodings} encodings proved canonical"
    );
}
