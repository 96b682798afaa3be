//! Typesetting with typst as a library: an in-memory [`World`] holding one template, one JSON
//! data file and the embedded DejaVu Sans fonts. Nothing is read from disk or the network.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Timelike, Utc};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;

use crate::error::ReportError;

struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

/// DejaVu Sans (regular, bold, oblique, bold oblique) and DejaVu Sans Condensed, from the
/// `dejavu` crate: the PDF embeds subsets of these, so output never depends on the host.
static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let faces: [&'static [u8]; 7] = [
        dejavu::sans::regular(),
        dejavu::sans::bold(),
        dejavu::sans::oblique(),
        dejavu::sans::bold_oblique(),
        dejavu::sans_condensed::regular(),
        dejavu::sans_condensed::bold(),
        dejavu::sans_mono::regular(),
    ];
    let fonts: Vec<Font> = faces.into_iter().flat_map(|f| Font::iter(Bytes::new(f))).collect();
    Fonts { book: LazyHash::new(FontBook::from_fonts(&fonts)), fonts }
});

static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

fn file_id(path: &str) -> FileId {
    RootedPath::new(VirtualRoot::Project, VirtualPath::new(path).expect("valid virtual path")).intern()
}

struct ReportWorld {
    main: FileId,
    source: Source,
    data_id: FileId,
    data: Bytes,
    today: DateTime<Utc>,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main { Ok(self.source.clone()) } else { Err(FileError::NotSource) }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else {
            Err(FileError::NotFound(format!("{:?}", id.vpath()).into()))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Datetime::from_ymd(self.today.year(), self.today.month() as u8, self.today.day() as u8)
    }
}

/// Typesets `template` (typst markup reading `/data.json`) with `data` into PDF bytes.
/// `created` becomes the PDF's creation date; `ident` its stable document identifier.
pub fn pdf(template: &str, data: Vec<u8>, created: DateTime<Utc>, ident: &str) -> Result<Vec<u8>, ReportError> {
    let main = file_id("/report.typ");
    let world = ReportWorld {
        main,
        source: Source::new(main, template.to_string()),
        data_id: file_id("/data.json"),
        data: Bytes::new(data),
        today: created,
    };
    let doc: PagedDocument = typst::compile(&world).output.map_err(|e| diagnostics(&world, &e))?;
    let stamp = Datetime::from_ymd_hms(
        created.year(),
        created.month() as u8,
        created.day() as u8,
        created.hour() as u8,
        created.minute() as u8,
        created.second() as u8,
    )
    .map(typst_pdf::Timestamp::new_utc);
    let options = typst_pdf::PdfOptions {
        ident: Smart::Custom(ident.to_string()),
        creator: Smart::Custom(Some(format!("Tarn {}", env!("CARGO_PKG_VERSION")))),
        timestamp: stamp,
        ..Default::default()
    };
    let bytes = typst_pdf::pdf(&doc, &options).map_err(|e| diagnostics(&world, &e))?;
    // typst memoizes layout across calls; keep a long-running server's cache bounded.
    typst::comemo::evict(4);
    Ok(bytes)
}

fn diagnostics(world: &ReportWorld, errors: &[SourceDiagnostic]) -> ReportError {
    let text = errors
        .iter()
        .map(|d| {
            let at = d
                .span
                .id()
                .filter(|id| *id == world.main)
                .and_then(|_| world.range(d.span))
                .map(|r| format!(" (template line {})", world.source.text()[..r.start].lines().count()))
                .unwrap_or_default();
            format!("{}{at}", d.message)
        })
        .collect::<Vec<_>>()
        .join("; ");
    ReportError::Typeset(text)
}
