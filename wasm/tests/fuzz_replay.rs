//! The OPFS slot header fuzzer's seed corpus and crashers (`engine/fuzz/corpus/opfs_slot/seed-*`,
//! `engine/fuzz/artifacts/opfs_slot/`), replayed with stable Rust. `TOONSTORE_WRITE_CORPUS=1`
//! writes the seeds.

use std::path::Path;

use toonstore_wasm::slot::{HEADER, fuzz_header, header};

#[test]
fn every_seed_and_crasher_replays() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/fuzz");
    let seeds = fuzz.join("corpus/opfs_slot");
    if std::env::var_os("TOONSTORE_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(&seeds).unwrap();
        let named = header(Some("seg-0000000000000001.log"));
        for (name, bytes) in [
            ("free", header(None).to_vec()),
            ("named", named.to_vec()),
            ("zeros", vec![0; HEADER as usize]),
            ("short", named[..40].to_vec()),
        ] {
            std::fs::write(seeds.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
    let mut replayed = 0;
    let crashers = fuzz.join("artifacts/opfs_slot");
    for dir in [&seeds, &crashers] {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if dir == &seeds && !name.starts_with("seed-") {
                continue;
            }
            fuzz_header(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no seed corpus");
}
