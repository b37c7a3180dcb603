"""A small XLSX writer for tables of text and numbers, in the parts and bytes XlsxWriter writes for them.

`write_workbook` covers what the grades workbook uses: worksheets with a bold header row, text cells
(shared strings) and number cells, a frozen header, an autofilter, column widths, and document properties
(title, author, company, a fixed creation date). For those it writes the same package XlsxWriter 3
writes, byte for byte (tests/unit/connectors/test_exports_xlsx.py renders both), without XlsxWriter's
4 µs per cell: the grades workbook of 5,000 students (630,000 cells) took 3.3 s of CPU through XlsxWriter
and takes 0.7 s here.

Text is written as given (callers neutralise formula-like text): never as a formula, a number or a URL.
One deliberate difference: XlsxWriter writes text that starts with "<r>" and ends with "</r>" unescaped
(its rich-string form); here all text is escaped.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

__all__ = ["MAX_ROWS", "Cell", "Worksheet", "column_name", "write_workbook"]

Cell = str | Decimal | float | None
#: Rows in an Excel worksheet; XlsxWriter leaves cells out past it, and so does this writer.
MAX_ROWS: Final = 1_048_576
_MAX_STRING: Final = 32_767  # UTF-16 units in one cell
_ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)  # the timestamp XlsxWriter gives every part
_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PACKAGE: Final = "http://schemas.openxmlformats.org/package/2006"
_OFFICE: Final = "http://schemas.openxmlformats.org/officeDocument/2006"
_XML_SPECIAL: Final = re.compile('["&<>\n]')
_ESCAPE_LITERAL: Final = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL: Final = re.compile(r"([\x00-\x08\x0b-\x1f])")
_LEADING_SPACE: Final = re.compile(r"^\s")
_TRAILING_SPACE: Final = re.compile(r"\s$")
_NOT_NAME_CHARACTER: Final = re.compile(r"[^\w.]")
_A1_REFERENCE: Final = re.compile(r"^([A-Z]{1,3})(\d+)$")
_R1_REFERENCE: Final = re.compile(r"^R(\d+)")
_C1_REFERENCE: Final = re.compile(r"^R?C(\d+)")
_LEADING_DIGIT: Final = re.compile(r"[\d.]")
_MAX_COLUMNS: Final = 16_384
_DEFAULT_WIDTH_PIXELS: Final = 64
_STYLES: Final = (
    _DECLARATION + f'<styleSheet xmlns="{_MAIN}"><fonts count="2"><font><sz val="11"/><color theme="1"/>'
    '<name val="Calibri"/><family val="2"/><scheme val="minor"/></font><font><b/><sz val="11"/>'
    '<color theme="1"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
    '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/>'
    '<tableStyles count="0" defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>'
    "</styleSheet>"
)
_BOLD: Final = 1  # the cellXfs index of the bold header style above
_MARGINS: Final = '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'


@dataclass(frozen=True, slots=True)
class Worksheet:
    """A worksheet: a bold header row, then `rows` (None, or a row cut short, leaves cells empty).

    `widths` are (first column, last column, width in characters) from 0, for ranges that neither overlap
    nor touch; `autofilter` covers the header and the rows (at least one row, as the grades workbook had).
    """

    name: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    freeze_header: bool = False
    autofilter: bool = False
    widths: Sequence[tuple[int, int, float]] = ()


def column_name(index: int) -> str:
    """The letters of a column from 0: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _data(text: str) -> str:
    """Element text escaped as XlsxWriter escapes it (quotes stay; control characters become _xHHHH_)."""
    if _XML_SPECIAL.search(text):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _controls(text)


def _controls(text: str) -> str:
    text = _ESCAPE_LITERAL.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda match: f"_x{ord(match.group(1)):04X}_", text)
    return text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")


def _shared_string(text: str) -> str:
    """One <si> of sharedStrings.xml."""
    text = _controls(text)
    space = ' xml:space="preserve"' if _LEADING_SPACE.search(text) or _TRAILING_SPACE.search(text) else ""
    if _XML_SPECIAL.search(text):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<si><t{space}>{text}</t></si>"


def _clipped(text: str) -> str:
    """At most 32,767 UTF-16 units, as Excel holds (and XlsxWriter cuts) them."""
    if len(text.encode("utf-16-le", "surrogatepass")) // 2 <= _MAX_STRING:
        return text
    units = 0
    for position, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > _MAX_STRING:
            return text[:position]
    return text


def _col(first: int, last: int, characters: float) -> str:
    """A <col> of a width in characters as Excel stores it (Calibri 11: 7-pixel digits, 5 pixels of
    padding); the default width (64 pixels) is not marked custom."""
    pixels = int(characters * 7 + 0.5) + 5 if characters >= 1 else int(characters * 12 + 0.5)
    custom = ' customWidth="1"' if pixels != _DEFAULT_WIDTH_PIXELS else ""
    return f'<col min="{first + 1}" max="{last + 1}" width="{(pixels * 256 // 7) / 256.0:.16g}"{custom}/>'


def _sheet_reference(name: str) -> str:
    """The sheet name as a reference writes it: quoted when it holds more than word characters and dots,
    starts with a digit or a dot, or reads as an A1 or R1C1 reference (XlsxWriter's quote_sheetname)."""
    upper = name.upper()
    a1, r1, c1 = _A1_REFERENCE.match(upper), _R1_REFERENCE.match(upper), _C1_REFERENCE.match(upper)
    if _NOT_NAME_CHARACTER.search(name) or _LEADING_DIGIT.match(name):
        quote = True
    elif a1:
        quote = 0 < int(a1.group(2)) <= MAX_ROWS and _column_index(a1.group(1)) < _MAX_COLUMNS
    elif r1:
        quote = 0 < int(r1.group(1)) <= MAX_ROWS
    elif c1:
        quote = 0 < int(c1.group(1)) <= _MAX_COLUMNS
    else:
        quote = upper in ("R", "C", "RC")
    return "'" + name.replace("'", "''") + "'" if quote else name


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


class _Strings:
    """The shared string table: index by first use, and how many cells use one."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.count = 0

    def xml(self) -> str:
        body = "".join(map(_shared_string, self.index))
        return (
            _DECLARATION
            + f'<sst xmlns="{_MAIN}" count="{self.count}" uniqueCount="{len(self.index)}">{body}</sst>'
        )


class _Numbers(dict[Decimal | float, str]):
    """Number cell text: the value as a float in "%.16G" (as XlsxWriter writes it), once per distinct value.

    Zeros are never kept: 0 and -0 are equal keys but read "0" and "-0".
    """

    def __missing__(self, value: Decimal | float) -> str:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"a worksheet cell cannot hold {value}")
        text = f"{number:.16G}"
        if number:
            self[value] = text
        return text


def _sheet_xml(sheet: Worksheet, index: int, strings: _Strings, numbers: _Numbers) -> tuple[str, str | None]:
    """The worksheet part, and the autofilter's defined-name range (None without one)."""
    columns = [
        column_name(col) for col in range(max(len(sheet.header), max(map(len, sheet.rows), default=0)))
    ]
    table = strings.index
    bold = f' s="{_BOLD}"'
    rows: list[tuple[int, int, int, str]] = []  # (row from 0, first column, last column, cells)
    last_column = -1
    string_count = 0
    for row_index, row in enumerate([sheet.header, *sheet.rows][:MAX_ROWS]):
        number = row_index + 1
        style = bold if row_index == 0 else ""
        cells = []
        first = last = -1
        for col, value in enumerate(row):
            if value is None:
                continue
            if first < 0:
                first = col
            last = col
            if isinstance(value, str):
                if len(value) > _MAX_STRING // 2:
                    value = _clipped(value)
                position = table.get(value)
                if position is None:
                    position = table[value] = len(table)
                string_count += 1
                cells.append(f'<c r="{columns[col]}{number}"{style} t="s"><v>{position}</v></c>')
            else:
                cells.append(f'<c r="{columns[col]}{number}"{style}><v>{numbers[value]}</v></c>')
        if cells:
            rows.append((row_index, first, last, "".join(cells)))
            last_column = max(last_column, last)
    strings.count += string_count
    # XlsxWriter's "spans" attribute: the columns in use in each block of 16 rows.
    spans: dict[int, tuple[int, int]] = {}
    for row_index, first, last, _ in rows:
        block = spans.get(row_index // 16)
        spans[row_index // 16] = (
            (first, last) if block is None else (min(block[0], first), max(block[1], last))
        )
    data = "".join(
        f'<row r="{row_index + 1}" spans="{spans[row_index // 16][0] + 1}:{spans[row_index // 16][1] + 1}">'
        f"{cells}</row>"
        for row_index, _, _, cells in rows
    )
    if not rows:
        dimension = "A1"
    else:
        first_row, last_row = rows[0][0], rows[-1][0]
        first_column = min(first for _, first, _, _ in rows)
        dimension = f"{columns[first_column]}{first_row + 1}"
        if (first_row, first_column) != (last_row, last_column):
            dimension += f":{columns[last_column]}{last_row + 1}"
    selected = ' tabSelected="1"' if index == 0 else ""
    if sheet.freeze_header:
        view = (
            f'<sheetView{selected} workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            'state="frozen"/><selection pane="bottomLeft"/></sheetView>'
        )
    else:
        view = f'<sheetView{selected} workbookViewId="0"/>'
    cols = "".join(_col(first, last, width) for first, last, width in sorted(sheet.widths))
    filter_ref = filter_range = None
    filter_rows = max(len(sheet.rows), 1) + 1
    if sheet.autofilter and filter_rows <= MAX_ROWS:  # past the last row XlsxWriter sets no filter
        last_name = column_name(len(sheet.header) - 1)
        filter_ref = f"A1:{last_name}{filter_rows}"
        filter_range = f"{_sheet_reference(sheet.name)}!$A$1:${last_name}${filter_rows}"
    xml = (
        _DECLARATION + f'<worksheet xmlns="{_MAIN}" xmlns:r="{_OFFICE}/relationships">'
        f'<dimension ref="{dimension}"/><sheetViews>{view}</sheetViews><sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + (f"<sheetData>{data}</sheetData>" if rows else "<sheetData/>")
        + (f'<autoFilter ref="{filter_ref}"/>' if filter_ref else "")
        + _MARGINS
        + "</worksheet>"
    )
    return xml, filter_range


def write_workbook(
    sheets: Sequence[Worksheet], *, title: str, author: str, company: str, created: datetime
) -> bytes:
    """The .xlsx bytes of `sheets` (the first one selected); `created` is written as given, in UTC."""
    from xlsxwriter.theme import THEME_XML_2007  # the default Office theme XlsxWriter writes

    strings = _Strings()
    numbers = _Numbers()
    parts = [_sheet_xml(sheet, index, strings, numbers) for index, sheet in enumerate(sheets)]
    count = len(sheets)
    sheet_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, count + 1)
    )
    content_types = (
        _DECLARATION + f'<Types xmlns="{_PACKAGE}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/theme/theme1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        + sheet_types
        + '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    )
    relationships = f"{_OFFICE}/relationships"
    root_rels = (
        _DECLARATION + f'<Relationships xmlns="{_PACKAGE}/relationships">'
        f'<Relationship Id="rId1" Type="{relationships}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{_PACKAGE}/relationships/metadata/core-properties" '
        'Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{relationships}/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"
    )
    workbook_rels = (
        _DECLARATION
        + f'<Relationships xmlns="{_PACKAGE}/relationships">'
        + "".join(
            f'<Relationship Id="rId{n}" Type="{relationships}/worksheet" Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, count + 1)
        )
        + f'<Relationship Id="rId{count + 1}" Type="{relationships}/theme" Target="theme/theme1.xml"/>'
        f'<Relationship Id="rId{count + 2}" Type="{relationships}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{count + 3}" Type="{relationships}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    )
    names = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1">{_data(filter_range)}'
        "</definedName>"
        for index, (_, filter_range) in enumerate(parts)
        if filter_range is not None
    )
    workbook = (
        _DECLARATION + f'<workbook xmlns="{_MAIN}" xmlns:r="{relationships}">'
        '<fileVersion appName="xl" lastEdited="4" lowestEdited="4" rupBuild="4505"/>'
        '<workbookPr defaultThemeVersion="124226"/><bookViews>'
        '<workbookView xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"/></bookViews><sheets>'
        + "".join(
            f'<sheet name="{_attribute(sheet.name)}" sheetId="{n}" r:id="rId{n}"/>'
            for n, sheet in enumerate(sheets, start=1)
        )
        + "</sheets>"
        + (f"<definedNames>{names}</definedNames>" if names else "")
        + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    core = (
        _DECLARATION + f'<cp:coreProperties xmlns:cp="{_PACKAGE}/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{_data(title)}</dc:title><dc:creator>{_data(author)}</dc:creator>"
        f"<cp:lastModifiedBy>{_data(author)}</cp:lastModifiedBy>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'
    )
    app = (
        _DECLARATION + f'<Properties xmlns="{_OFFICE}/extended-properties" '
        f'xmlns:vt="{_OFFICE}/docPropsVTypes"><Application>Microsoft Excel</Application>'
        "<DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop><HeadingPairs>"
        '<vt:vector size="2" baseType="variant"><vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant>'
        f"<vt:variant><vt:i4>{count}</vt:i4></vt:variant></vt:vector></HeadingPairs><TitlesOfParts>"
        f'<vt:vector size="{count}" baseType="lpstr">'
        + "".join(f"<vt:lpstr>{_data(sheet.name)}</vt:lpstr>" for sheet in sheets)
        + f"</vt:vector></TitlesOfParts><Company>{_data(company)}</Company><LinksUpToDate>false</LinksUpToDate>"
        "<SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged><AppVersion>12.0000</AppVersion>"
        "</Properties>"
    )
    # Part order and zip entry settings as XlsxWriter's packager writes them.
    package = [
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", root_rels),
        ("xl/_rels/workbook.xml.rels", workbook_rels),
        *((f"xl/worksheets/sheet{n}.xml", xml) for n, (xml, _) in enumerate(parts, start=1)),
        ("xl/workbook.xml", workbook),
        ("xl/sharedStrings.xml", strings.xml()),
        ("xl/styles.xml", _STYLES),
        ("xl/theme/theme1.xml", THEME_XML_2007),
        ("docProps/core.xml", core),
        ("docProps/app.xml", app),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in package:
            info = zipfile.ZipInfo(name, _ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def _attribute(text: str) -> str:
    if _XML_SPECIAL.search(text):
        text = (
            text.replace("&", "&amp;")
            .replace('"', "&quot;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("\n", "&#xA;")
        )
    return text
