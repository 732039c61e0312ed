//! The image-file video source: one picture, or a folder of them in name order,
//! looped. JPEG files are sent byte for byte (what a receiver records is the
//! file); other formats are decoded and encoded as JPEG.

use super::{VideoSettings, VideoSource};
use anyhow::{Context, bail};
use common::MediaHeader;
use common::protocol::MAX_VIDEO_PAYLOAD;
use image::codecs::jpeg::JpegEncoder;
use std::path::{Path, PathBuf};

pub struct ImageFiles {
    files: Vec<PathBuf>,
    next: usize,
    quality: u8,
    origin: PathBuf,
}

const MAX_JPEG: usize = MAX_VIDEO_PAYLOAD as usize - MediaHeader::LEN;

fn is_image(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png")
}

impl ImageFiles {
    pub fn open(path: &Path, settings: VideoSettings) -> anyhow::Result<ImageFiles> {
        let meta = std::fs::metadata(path).with_context(|| {
            format!(
                "video source {}: no such file or folder (or 'test' for a test pattern)",
                path.display()
            )
        })?;
        let files = if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("could not read folder {}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("folder {} has no .jpg, .jpeg or .png files", path.display());
            }
            files
        } else {
            vec![path.to_path_buf()]
        };
        Ok(ImageFiles {
            files,
            next: 0,
            quality: settings.quality,
            origin: path.to_path_buf(),
        })
    }
}

impl VideoSource for ImageFiles {
    fn describe(&self) -> String {
        format!(
            "{} image(s) from {}",
            self.files.len(),
            self.origin.display()
        )
    }

    fn next_jpeg(&mut self) -> anyhow::Result<Vec<u8>> {
        let path = &self.files[self.next % self.files.len()];
        self.next = (self.next + 1) % self.files.len();
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        let jpeg = if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            bytes
        } else {
            let picture = image::load_from_memory(&bytes)
                .with_context(|| {
                    format!("{} is not an image this client can read", path.display())
                })?
                .into_rgb8();
            let mut jpeg = Vec::new();
            picture.write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, self.quality))?;
            jpeg
        };
        if jpeg.len() > MAX_JPEG {
            bail!(
                "{} is {} bytes as JPEG, over the {MAX_JPEG}-byte frame limit: scale it down",
                path.display(),
                jpeg.len()
            );
        }
        Ok(jpeg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_is_played_in_name_order_and_jpegs_pass_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let jpeg = |shade: u8| {
            let img = image::RgbImage::from_pixel(8, 8, image::Rgb([shade, 0, 0]));
            let mut out = Vec::new();
            img.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 80))
                .expect("encodes");
            out
        };
        std::fs::write(dir.path().join("b.jpg"), jpeg(200)).expect("write");
        std::fs::write(dir.path().join("a.jpg"), jpeg(10)).expect("write");
        std::fs::write(dir.path().join("notes.txt"), "not an image").expect("write");
        let mut source = ImageFiles::open(dir.path(), VideoSettings::default()).expect("opens");
        assert_eq!(source.next_jpeg().expect("frame"), jpeg(10));
        assert_eq!(source.next_jpeg().expect("frame"), jpeg(200));
        assert_eq!(source.next_jpeg().expect("frame"), jpeg(10), "loops");
    }

    #[test]
    fn missing_or_empty_sources_say_what_is_wrong() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = ImageFiles::open(&dir.path().join("nope"), VideoSettings::default())
            .err()
            .expect("missing");
        assert!(format!("{err:#}").contains("no such file"));
        let err = ImageFiles::open(dir.path(), VideoSettings::default())
            .err()
            .expect("empty");
        assert!(format!("{err:#}").contains("no .jpg"));
    }
}
