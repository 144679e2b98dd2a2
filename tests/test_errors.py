"""The error messages users read: file, line and record must be in them."""

from bioseq.errors import AlphabetError, BioseqError, DuplicateIdError


def test_message_names_file_line_and_record():
    err = AlphabetError("letters 'J' are not DNA", path="reads.fa", record="r1", line=12)
    assert str(err) == "reads.fa:12, record 'r1': letters 'J' are not DNA"
    assert isinstance(err, BioseqError)
    assert (err.path, err.record, err.line) == ("reads.fa", "r1", 12)


def test_message_without_location_is_the_message():
    assert str(DuplicateIdError("duplicate id")) == "duplicate id"


def test_path_without_line():
    assert str(BioseqError("empty", path="x.fa")) == "x.fa: empty"


def test_located_fills_in_a_missing_path_only():
    from bioseq.errors import SequenceTooShortError

    err = SequenceTooShortError("too short", record="s1").located("reads.fa")
    assert isinstance(err, SequenceTooShortError)
    assert str(err) == "reads.fa, record 's1': too short"
    assert BioseqError("x", path="a.fa").located("b.fa").path == "a.fa"
