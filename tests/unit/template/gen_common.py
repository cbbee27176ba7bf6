"""What gen_filter_cases.py and gen_tag_cases.py share: the JSON context as the Python values
Django renders (the same markers mn_value_from_json reads), and strings as C literals."""
import datetime, decimal


def to_py(v):
    """A JSON value as Python: {"__safe__": s} is mark_safe(s); __decimal__, __date__, __time__
    and __datetime__ (ISO text, 'Z' for UTC) are Decimal, date, time and datetime."""
    from django.utils.safestring import mark_safe  # after the caller's django.setup()
    if isinstance(v, dict):
        if len(v) == 1:
            (k, val), = v.items()
            if k == '__safe__':
                return mark_safe(val)
            if k == '__decimal__':
                return decimal.Decimal(val)
            if k == '__date__':
                return datetime.date.fromisoformat(val)
            if k == '__time__':
                return datetime.time.fromisoformat(val)
            if k == '__datetime__':
                if val.endswith('Z'):
                    val = val[:-1] + '+00:00'
                return datetime.datetime.fromisoformat(val)
        return {k: to_py(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_py(x) for x in v]
    return v


def esc(s):
    """s as a C string literal: its UTF-8 bytes, octal escapes outside printable ASCII, and
    '?' escaped so that no '??' reads as a trigraph."""
    out = []
    for ch in s.encode('utf-8'):
        ch_c = chr(ch)
        if ch_c == '\\': out.append('\\\\')
        elif ch_c == '"': out.append('\\"')
        elif ch_c == '\n': out.append('\\n')
        elif ch_c == '\r': out.append('\\r')
        elif ch_c == '\t': out.append('\\t')
        elif ch_c == '?': out.append('\\?')
        elif 32 <= ch < 127: out.append(ch_c)
        else: out.append('\\%03o' % ch)
    return '"' + ''.join(out) + '"'
