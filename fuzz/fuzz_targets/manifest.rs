#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = serde_json::from_slice::<devbox::image::oci::Manifest>(bytes);
    let _ = serde_json::from_slice::<devbox::image::oci::ImageConfig>(bytes);
});
