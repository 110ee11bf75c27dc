//! A read-only handle survives another handle shortening its file: reads past the new end
//! fail with `UnexpectedEof` instead of touching a memory map past the end of the file,
//! which would kill the process with `SIGBUS`. (Its own test binary: a SIGBUS would end
//! every test beside it.)

use toonstore::io::{File, MmapStorage, OpenMode, Storage};

/// Review finding A10 (b): a read-only store mapped the writer's active segment, whose
/// zeros written ahead the writer trims at rotation and close.
#[cfg(unix)]
#[test]
fn a_read_only_handle_reads_a_file_another_handle_shortens() {
    let dir = std::env::temp_dir().join(format!("toonstore-unmapped-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let storage = MmapStorage::open_dir(&dir).unwrap();
    let writer = storage.open("seg", OpenMode::Create).unwrap();
    writer.write_at(0, &vec![7; 1 << 20]).unwrap();
    let reader = storage.open("seg", OpenMode::ReadOnly).unwrap();
    writer.set_len(4096).unwrap();
    let mut buf = vec![0; 4096];
    let error = reader.read_at(512 << 10, &mut buf).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    reader.read_at(0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 7));
    std::fs::remove_dir_all(&dir).unwrap();
}
