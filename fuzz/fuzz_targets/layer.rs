#![no_main]
// The layer unpacker on arbitrary bytes: never a panic, never a write
// beside its destination.
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("layer.tar");
    let dest = work.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(&tar, bytes).unwrap();
    let _ = devbox::image::layer::unpack(&tar, &dest, false, false, None);
    let names: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "the unpack wrote beside its destination");
});
