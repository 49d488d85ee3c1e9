//! `Date` (ECMA-262 §21.4), as V8 computes it.
//!
//! Time values are milliseconds since the epoch, clipped to ±8.64e15 (TimeClip); a Date object holds one
//! in the object's slots (`DateValue`). Day and month arithmetic follows §21.4.1 (MakeDay, MakeTime, MakeDate) with V8's
//! limits where V8 differs from the letter of the spec: MakeDay answers NaN for a year outside ±1e6 or a
//! month outside ±1e7 before it looks at the date.
//!
//! Local time: only a process whose time zone is UTC is modelled (TZ unset, empty, `UTC`, `Etc/UTC` or
//! `:UTC`, and when TZ is unset /etc/localtime absent or a link to UTC or Etc/UTC), checked once. In any
//! other zone every operation that needs local time gives up. `toString` and `toTimeString` also print
//! the zone's name, which ICU localises ("Coordinated Universal Time" in English): they give up unless
//! the zone and the locale (LC_ALL, LC_MESSAGES, LANG) are ones whose name was checked against Node.
//!
//! What gives up: `Date()` called as a function (a string of the current time), strings that are not in
//! the Date Time String Format of §21.4.1.32 (V8 then tries its legacy parser, which is not modelled; a
//! string without any digit is NaN there, and that case is answered), `toLocale*String`, and the
//! setters' rare orders of evaluation where V8 and the spec disagree (a `valueOf` that changes the date
//! being set, or object arguments to a setter of an invalid date).

use crate::builtins::arg;
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{Obj, ObjKind, Slots};
use crate::ops;
use crate::realm::Installer;
use crate::value::{ObjRef, Value};
use std::sync::OnceLock;

crate::builtin!(DATE, "Date", 7, date_call, ctor = date_ctor);
crate::builtin!(NOW, "Date.now", 0, date_now, returns_number);
crate::builtin!(PARSE, "Date.parse", 1, date_parse, returns_number);
crate::builtin!(UTC, "Date.UTC", 7, date_utc, returns_number);
crate::builtin!(
    GET_TIME,
    "Date.prototype.getTime",
    0,
    get_time,
    returns_number
);
crate::builtin!(
    VALUE_OF,
    "Date.prototype.valueOf",
    0,
    get_time,
    returns_number
);
crate::builtin!(
    GET_TIMEZONE_OFFSET,
    "Date.prototype.getTimezoneOffset",
    0,
    get_timezone_offset,
    returns_number
);
crate::builtin!(
    GET_FULL_YEAR,
    "Date.prototype.getFullYear",
    0,
    |cx, t, _| get_field(cx, t, Field::Year, false),
    returns_number
);
crate::builtin!(
    GET_MONTH,
    "Date.prototype.getMonth",
    0,
    |cx, t, _| { get_field(cx, t, Field::Month, false) },
    returns_number
);
crate::builtin!(
    GET_DATE,
    "Date.prototype.getDate",
    0,
    |cx, t, _| get_field(cx, t, Field::Date, false),
    returns_number
);
crate::builtin!(
    GET_DAY,
    "Date.prototype.getDay",
    0,
    |cx, t, _| get_field(cx, t, Field::WeekDay, false),
    returns_number
);
crate::builtin!(
    GET_HOURS,
    "Date.prototype.getHours",
    0,
    |cx, t, _| { get_field(cx, t, Field::Hours, false) },
    returns_number
);
crate::builtin!(
    GET_MINUTES,
    "Date.prototype.getMinutes",
    0,
    |cx, t, _| { get_field(cx, t, Field::Minutes, false) },
    returns_number
);
crate::builtin!(
    GET_SECONDS,
    "Date.prototype.getSeconds",
    0,
    |cx, t, _| { get_field(cx, t, Field::Seconds, false) },
    returns_number
);
crate::builtin!(
    GET_MILLISECONDS,
    "Date.prototype.getMilliseconds",
    0,
    |cx, t, _| get_field(cx, t, Field::Ms, false),
    returns_number
);
crate::builtin!(
    GET_UTC_FULL_YEAR,
    "Date.prototype.getUTCFullYear",
    0,
    |cx, t, _| get_field(cx, t, Field::Year, true),
    returns_number
);
crate::builtin!(
    GET_UTC_MONTH,
    "Date.prototype.getUTCMonth",
    0,
    |cx, t, _| get_field(cx, t, Field::Month, true),
    returns_number
);
crate::builtin!(
    GET_UTC_DATE,
    "Date.prototype.getUTCDate",
    0,
    |cx, t, _| { get_field(cx, t, Field::Date, true) },
    returns_number
);
crate::builtin!(
    GET_UTC_DAY,
    "Date.prototype.getUTCDay",
    0,
    |cx, t, _| { get_field(cx, t, Field::WeekDay, true) },
    returns_number
);
crate::builtin!(
    GET_UTC_HOURS,
    "Date.prototype.getUTCHours",
    0,
    |cx, t, _| get_field(cx, t, Field::Hours, true),
    returns_number
);
crate::builtin!(
    GET_UTC_MINUTES,
    "Date.prototype.getUTCMinutes",
    0,
    |cx, t, _| get_field(cx, t, Field::Minutes, true),
    returns_number
);
crate::builtin!(
    GET_UTC_SECONDS,
    "Date.prototype.getUTCSeconds",
    0,
    |cx, t, _| get_field(cx, t, Field::Seconds, true),
    returns_number
);
crate::builtin!(
    GET_UTC_MILLISECONDS,
    "Date.prototype.getUTCMilliseconds",
    0,
    |cx, t, _| get_field(cx, t, Field::Ms, true),
    returns_number
);
crate::builtin!(SET_TIME, "Date.prototype.setTime", 1, set_time);
crate::builtin!(
    SET_FULL_YEAR,
    "Date.prototype.setFullYear",
    3,
    |cx, t, a| set_fields(cx, t, a, Field::Year, false)
);
crate::builtin!(SET_MONTH, "Date.prototype.setMonth", 2, |cx, t, a| {
    set_fields(cx, t, a, Field::Month, false)
});
crate::builtin!(
    SET_DATE,
    "Date.prototype.setDate",
    1,
    |cx, t, a| set_fields(cx, t, a, Field::Date, false)
);
crate::builtin!(SET_HOURS, "Date.prototype.setHours", 4, |cx, t, a| {
    set_fields(cx, t, a, Field::Hours, false)
});
crate::builtin!(SET_MINUTES, "Date.prototype.setMinutes", 3, |cx, t, a| {
    set_fields(cx, t, a, Field::Minutes, false)
});
crate::builtin!(SET_SECONDS, "Date.prototype.setSeconds", 2, |cx, t, a| {
    set_fields(cx, t, a, Field::Seconds, false)
});
crate::builtin!(
    SET_MILLISECONDS,
    "Date.prototype.setMilliseconds",
    1,
    |cx, t, a| set_fields(cx, t, a, Field::Ms, false)
);
crate::builtin!(
    SET_UTC_FULL_YEAR,
    "Date.prototype.setUTCFullYear",
    3,
    |cx, t, a| set_fields(cx, t, a, Field::Year, true)
);
crate::builtin!(
    SET_UTC_MONTH,
    "Date.prototype.setUTCMonth",
    2,
    |cx, t, a| set_fields(cx, t, a, Field::Month, true)
);
crate::builtin!(SET_UTC_DATE, "Date.prototype.setUTCDate", 1, |cx, t, a| {
    set_fields(cx, t, a, Field::Date, true)
});
crate::builtin!(
    SET_UTC_HOURS,
    "Date.prototype.setUTCHours",
    4,
    |cx, t, a| set_fields(cx, t, a, Field::Hours, true)
);
crate::builtin!(
    SET_UTC_MINUTES,
    "Date.prototype.setUTCMinutes",
    3,
    |cx, t, a| set_fields(cx, t, a, Field::Minutes, true)
);
crate::builtin!(
    SET_UTC_SECONDS,
    "Date.prototype.setUTCSeconds",
    2,
    |cx, t, a| set_fields(cx, t, a, Field::Seconds, true)
);
crate::builtin!(
    SET_UTC_MILLISECONDS,
    "Date.prototype.setUTCMilliseconds",
    1,
    |cx, t, a| set_fields(cx, t, a, Field::Ms, true)
);
crate::builtin!(
    TO_ISO_STRING,
    "Date.prototype.toISOString",
    0,
    to_iso_string
);
crate::builtin!(TO_JSON, "Date.prototype.toJSON", 1, to_json);
crate::builtin!(
    TO_UTC_STRING,
    "Date.prototype.toUTCString",
    0,
    |cx, t, _| format_date(cx, t, Format::Utc)
);
crate::builtin!(TO_STRING, "Date.prototype.toString", 0, |cx, t, _| {
    format_date(cx, t, Format::DateAndTime)
});
crate::builtin!(
    TO_DATE_STRING,
    "Date.prototype.toDateString",
    0,
    |cx, t, _| format_date(cx, t, Format::Date)
);
crate::builtin!(
    TO_TIME_STRING,
    "Date.prototype.toTimeString",
    0,
    |cx, t, _| format_date(cx, t, Format::Time)
);
crate::builtin!(
    TO_LOCALE_STRING,
    "Date.prototype.toLocaleString",
    0,
    to_locale
);
crate::builtin!(
    TO_LOCALE_DATE_STRING,
    "Date.prototype.toLocaleDateString",
    0,
    to_locale
);
crate::builtin!(
    TO_LOCALE_TIME_STRING,
    "Date.prototype.toLocaleTimeString",
    0,
    to_locale
);

/// A Date's slots: its time value ([[DateValue]], ECMA-262 §21.4.4), NaN for an invalid date.
#[derive(Clone, Copy, Debug)]
pub struct DateValue(pub f64);

impl Slots for DateValue {
    fn each_value(&mut self, _: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        Ok(())
    }
    /// Date.prototype[@@toPrimitive] prefers a string for the default hint (§21.4.4.45).
    fn prefers_string(&self) -> bool {
        true
    }
    fn same_as(&self, other: &dyn Slots) -> bool {
        (other as &dyn std::any::Any)
            .downcast_ref::<DateValue>()
            .is_some_and(|d| d.0.to_bits() == self.0.to_bits())
    }
}

/// Installs date's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let date_proto = r.prototype("Date", r.realm.object_proto)?;
    let date = r.constructor("Date", &DATE, date_proto)?;
    r.statics(date, &[("now", &NOW), ("parse", &PARSE), ("UTC", &UTC)])?;
    r.methods(
        date_proto,
        &[
            ("getTime", &GET_TIME),
            ("valueOf", &VALUE_OF),
            ("getTimezoneOffset", &GET_TIMEZONE_OFFSET),
            ("getFullYear", &GET_FULL_YEAR),
            ("getMonth", &GET_MONTH),
            ("getDate", &GET_DATE),
            ("getDay", &GET_DAY),
            ("getHours", &GET_HOURS),
            ("getMinutes", &GET_MINUTES),
            ("getSeconds", &GET_SECONDS),
            ("getMilliseconds", &GET_MILLISECONDS),
            ("getUTCFullYear", &GET_UTC_FULL_YEAR),
            ("getUTCMonth", &GET_UTC_MONTH),
            ("getUTCDate", &GET_UTC_DATE),
            ("getUTCDay", &GET_UTC_DAY),
            ("getUTCHours", &GET_UTC_HOURS),
            ("getUTCMinutes", &GET_UTC_MINUTES),
            ("getUTCSeconds", &GET_UTC_SECONDS),
            ("getUTCMilliseconds", &GET_UTC_MILLISECONDS),
            ("setTime", &SET_TIME),
            ("setFullYear", &SET_FULL_YEAR),
            ("setMonth", &SET_MONTH),
            ("setDate", &SET_DATE),
            ("setHours", &SET_HOURS),
            ("setMinutes", &SET_MINUTES),
            ("setSeconds", &SET_SECONDS),
            ("setMilliseconds", &SET_MILLISECONDS),
            ("setUTCFullYear", &SET_UTC_FULL_YEAR),
            ("setUTCMonth", &SET_UTC_MONTH),
            ("setUTCDate", &SET_UTC_DATE),
            ("setUTCHours", &SET_UTC_HOURS),
            ("setUTCMinutes", &SET_UTC_MINUTES),
            ("setUTCSeconds", &SET_UTC_SECONDS),
            ("setUTCMilliseconds", &SET_UTC_MILLISECONDS),
            ("toISOString", &TO_ISO_STRING),
            ("toJSON", &TO_JSON),
            ("toUTCString", &TO_UTC_STRING),
            ("toString", &TO_STRING),
            ("toDateString", &TO_DATE_STRING),
            ("toTimeString", &TO_TIME_STRING),
            ("toLocaleString", &TO_LOCALE_STRING),
            ("toLocaleDateString", &TO_LOCALE_DATE_STRING),
            ("toLocaleTimeString", &TO_LOCALE_TIME_STRING),
        ],
    )?;
    Ok(())
}

const MS_PER_DAY: f64 = 86_400_000.0;
const MS_PER_HOUR: f64 = 3_600_000.0;
const MS_PER_MINUTE: f64 = 60_000.0;
const MS_PER_SECOND: f64 = 1_000.0;
/// The largest time value (ECMA-262 §21.4.1.31: 100,000,000 days either side of the epoch).
const MAX_TIME: f64 = 8.64e15;

// ---------------------------------------------------------------------------------------------------
// The local time zone

struct Zone {
    /// Local time is UTC: LocalTime and UTC (§21.4.1.25-26) are the identity.
    utc: bool,
    /// The zone's name as `toString` prints it, when it is known to be the one Node prints.
    name: Option<&'static str>,
}

fn zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(detect_zone)
}

fn detect_zone() -> Zone {
    let (utc, named) = match std::env::var_os("TZ") {
        Some(tz) => match tz.to_str() {
            // glibc reads an empty TZ as UTC; ICU names that zone "GMT+00:00", which is not modelled.
            Some("") => (true, false),
            Some("UTC") | Some("Etc/UTC") | Some(":UTC") => (true, true),
            _ => (false, false),
        },
        None => match std::fs::read_link("/etc/localtime") {
            Ok(target) => {
                let t = target.to_string_lossy();
                let utc = t.ends_with("zoneinfo/UTC") || t.ends_with("zoneinfo/Etc/UTC");
                (utc, utc)
            }
            // Absent: UTC, under a name ICU picks by other means. A regular file: some zone.
            Err(_) => (!std::path::Path::new("/etc/localtime").exists(), false),
        },
    };
    let name = if named && english_locale() {
        Some("Coordinated Universal Time")
    } else {
        None
    };
    Zone { utc, name }
}

/// Whether ICU's default locale, which names time zones, is one where UTC is "Coordinated Universal
/// Time". ICU takes the first of LC_ALL, LC_MESSAGES, LANG that is set; set but empty gives "und".
fn english_locale() -> bool {
    for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Some(v) = std::env::var_os(var) {
            return matches!(
                v.to_str(),
                Some("C" | "C.UTF-8" | "C.utf8" | "POSIX" | "en_US" | "en_US.UTF-8" | "en_US.utf8")
            );
        }
    }
    true
}

fn require_utc() -> JsResult<()> {
    if zone().utc {
        Ok(())
    } else {
        unsupported("Date in local time outside the UTC time zone")
    }
}

// ---------------------------------------------------------------------------------------------------
// Day and time arithmetic (ECMA-262 §21.4.1)

/// Days from 1970-01-01 to year `y`, month `m` (1-12), day `d` of the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Count from March 1 of year 0 so the leap day ends a year; 400-year eras of 146097 days.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `days_from_civil`: (year, month 1-12, day 1-31).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// ToIntegerOrInfinity on a number (V8's DoubleToInteger).
fn integer(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.trunc()
    }
}

/// MakeTime (§21.4.1.27).
fn make_time(h: f64, m: f64, s: f64, ms: f64) -> f64 {
    if !(h.is_finite() && m.is_finite() && s.is_finite() && ms.is_finite()) {
        return f64::NAN;
    }
    integer(h) * MS_PER_HOUR + integer(m) * MS_PER_MINUTE + integer(s) * MS_PER_SECOND + integer(ms)
}

/// MakeDay (§21.4.1.28) with V8's bounds: a year outside ±1e6 or a month outside ±1e7 is NaN (the spec
/// would compute a day, e.g. for year 1e6 and month -1.199e7, which V8 does not).
fn make_day(year: f64, month: f64, date: f64) -> f64 {
    if !((-1e6..=1e6).contains(&year) && (-1e7..=1e7).contains(&month) && date.is_finite()) {
        return f64::NAN;
    }
    let y = year.trunc() as i64;
    let m = month.trunc() as i64;
    let ym = y + m.div_euclid(12);
    let mn = m.rem_euclid(12);
    (days_from_civil(ym, mn + 1, 1) - 1) as f64 + integer(date)
}

/// MakeDate (§21.4.1.29).
fn make_date(day: f64, time: f64) -> f64 {
    if !(day.is_finite() && time.is_finite()) {
        return f64::NAN;
    }
    day * MS_PER_DAY + time
}

/// TimeClip (§21.4.1.31).
fn time_clip(t: f64) -> f64 {
    if !t.is_finite() || t.abs() > MAX_TIME {
        return f64::NAN;
    }
    t.trunc() + 0.0
}

/// The fields of a (finite, clipped) time value.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Parts {
    year: i64,
    /// 0-11.
    month: i64,
    /// 1-31.
    date: i64,
    /// 0 (Sunday) - 6.
    week_day: i64,
    hours: i64,
    minutes: i64,
    seconds: i64,
    ms: i64,
}

fn day_of(t: f64) -> i64 {
    (t / MS_PER_DAY).floor() as i64
}

fn parts(t: f64) -> Parts {
    let t = t as i64;
    let day = t.div_euclid(86_400_000);
    let in_day = t.rem_euclid(86_400_000);
    let (year, month, date) = civil_from_days(day);
    Parts {
        year,
        month: month - 1,
        date,
        week_day: (day + 4).rem_euclid(7),
        hours: in_day / 3_600_000,
        minutes: in_day / 60_000 % 60,
        seconds: in_day / 1000 % 60,
        ms: in_day % 1000,
    }
}

// ---------------------------------------------------------------------------------------------------
// The constructor and static functions

fn now() -> f64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_millis() as f64
}

fn date_call(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    unsupported("Date called as a function (a string of the current time)")
}

/// `new Date(...)` (§21.4.2.1).
fn date_ctor(cx: &mut Cx, this: Option<ObjRef>, args: &[Value]) -> JsResult<Value> {
    let tv = match args.len() {
        0 => now(),
        1 => {
            let v = &args[0];
            let dv = match v {
                Value::Obj(o) => cx.heap.kind(*o).slots::<DateValue>().map(|d| d.0),
                _ => None,
            };
            match dv {
                Some(t) => t,
                None => match ops::to_primitive(cx, v, ops::Hint::Default)? {
                    Value::Str(s) => parse(s.units())?,
                    p => time_clip(ops::to_number(cx, &p)?),
                },
            }
        }
        _ => {
            let f = components(cx, args)?;
            require_utc()?;
            time_clip(f)
        }
    };
    match this {
        Some(o) => {
            let obj = cx.heap.get_mut(o)?;
            if !matches!(obj.kind, ObjKind::Ordinary) {
                return unsupported("the Date constructor applied to an exotic object");
            }
            obj.kind = ObjKind::builtin(DateValue(tv));
            Ok(Value::Obj(o))
        }
        None => {
            let p = date_proto(cx);
            Ok(Value::Obj(cx.heap.alloc(Obj::new(
                ObjKind::builtin(DateValue(tv)),
                Some(p),
            ))?))
        }
    }
}

/// The date the arguments (year, month[, date, hours, minutes, seconds, ms]) denote, before UTC() and
/// TimeClip, as `new Date(y, m, ...)` and `Date.UTC` compute it.
fn components(cx: &mut Cx, args: &[Value]) -> JsResult<f64> {
    let mut v = [f64::NAN, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    for (i, slot) in v.iter_mut().enumerate() {
        if i < args.len() {
            *slot = ops::to_number(cx, &args[i])?;
        }
    }
    let mut year = v[0];
    if !year.is_nan() {
        let y = integer(year);
        if (0.0..=99.0).contains(&y) {
            year = 1900.0 + y;
        }
    }
    Ok(make_date(
        make_day(year, v[1], v[2]),
        make_time(v[3], v[4], v[5], v[6]),
    ))
}

fn date_now(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    Ok(Value::Num(now()))
}

fn date_parse(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = ops::to_string(cx, &arg(args, 0))?;
    Ok(Value::Num(parse(s.units())?))
}

fn date_utc(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let f = components(cx, args)?;
    Ok(Value::Num(time_clip(f)))
}

// ---------------------------------------------------------------------------------------------------
// Date.parse: the Date Time String Format (§21.4.1.32), as V8's ES5 parser reads it

/// What V8's first parser makes of a string.
#[derive(Debug, PartialEq)]
enum Iso {
    /// A time value in UTC, before TimeClip.
    Utc(f64),
    /// A date-time form without an offset: local time.
    Local(f64),
    /// The format was recognised up to its time part and then broken: V8 answers NaN.
    Invalid,
    /// Not this format: V8 hands the string to its legacy parser, which is not modelled.
    Other,
}

/// The run of ASCII digits at `*i`: its length and value (V8 keeps the first nine significant
/// digits of a numeral, skipping leading zeros; longer runs are only read as fractions of seconds).
fn digits(u: &[u16], i: &mut usize) -> (usize, u64) {
    let start = *i;
    let mut n: u64 = 0;
    let mut significant = 0;
    while *i < u.len() && (0x30..=0x39).contains(&u[*i]) {
        let d = (u[*i] - 0x30) as u64;
        if n > 0 || d > 0 {
            if significant < 9 {
                n = n * 10 + d;
            }
            significant += 1;
        }
        *i += 1;
    }
    (*i - start, n)
}

fn at(u: &[u16], i: usize, c: u8) -> bool {
    u.get(i) == Some(&(c as u16))
}

fn parse_iso(u: &[u16]) -> Iso {
    let mut i = 0;
    // Date: YYYY or ±YYYYYY, then -MM, then -DD.
    let year: i64 = if at(u, 0, b'+') || at(u, 0, b'-') {
        i = 1;
        let (len, n) = digits(u, &mut i);
        if len != 6 || (at(u, 0, b'-') && n == 0) {
            return Iso::Other;
        }
        if at(u, 0, b'-') {
            -(n as i64)
        } else {
            n as i64
        }
    } else {
        let (len, n) = digits(u, &mut i);
        if len != 4 {
            return Iso::Other;
        }
        n as i64
    };
    let (mut month, mut day) = (1, 1);
    if at(u, i, b'-') {
        i += 1;
        let (len, n) = digits(u, &mut i);
        if len != 2 || !(1..=12).contains(&n) {
            return Iso::Other;
        }
        month = n;
        if at(u, i, b'-') {
            i += 1;
            let (len, n) = digits(u, &mut i);
            if len != 2 || !(1..=31).contains(&n) {
                return Iso::Other;
            }
            day = n;
        }
    }
    let date = make_day(year as f64, (month - 1) as f64, day as f64);
    if i == u.len() {
        // Date-only forms are UTC.
        return Iso::Utc(make_date(date, 0.0));
    }
    if !(at(u, i, b'T') || at(u, i, b't')) {
        return Iso::Other;
    }
    i += 1;
    match u.get(i) {
        None => return Iso::Invalid,
        Some(c) if (0x30..=0x39).contains(c) => {}
        // A letter after T makes a longer word that is not the separator; other characters end it.
        // Both are rare: leave them to V8's legacy parser.
        Some(_) => return Iso::Other,
    }
    // Time: HH:mm[:ss[.s+]], then Z or ±HH:mm or ±HHmm, then the end. Past the T every flaw is NaN.
    let (len, hours) = digits(u, &mut i);
    if len != 2 || hours > 24 {
        return Iso::Invalid;
    }
    let h24 = hours == 24;
    if !at(u, i, b':') {
        return Iso::Invalid;
    }
    i += 1;
    let (len, minutes) = digits(u, &mut i);
    if len != 2 || minutes > 59 || (h24 && minutes > 0) {
        return Iso::Invalid;
    }
    let (mut seconds, mut ms) = (0, 0);
    if at(u, i, b':') {
        i += 1;
        let (len, n) = digits(u, &mut i);
        if len != 2 || n > 59 || (h24 && n > 0) {
            return Iso::Invalid;
        }
        seconds = n;
        if at(u, i, b'.') {
            i += 1;
            let (len, n) = digits(u, &mut i);
            if len == 0 || (h24 && n > 0) {
                return Iso::Invalid;
            }
            // The first three digits, as V8 reads them: from the value and the count of digits
            // (capped at nine), so more than nine digits with leading zeros read differently.
            ms = match len {
                1 => n * 100,
                2 => n * 10,
                3 => n,
                _ => n / 10u64.pow(len.min(9) as u32 - 3),
            };
        }
    }
    let time = make_time(hours as f64, minutes as f64, seconds as f64, ms as f64);
    let value = make_date(date, time);
    if i == u.len() {
        return Iso::Local(value);
    }
    let offset_minutes: i64 = if at(u, i, b'Z') || at(u, i, b'z') {
        i += 1;
        0
    } else if at(u, i, b'+') || at(u, i, b'-') {
        let sign = if at(u, i, b'-') { -1 } else { 1 };
        i += 1;
        let (len, n) = digits(u, &mut i);
        let (hh, mm) = match len {
            4 => (n / 100, n % 100),
            2 => {
                if !at(u, i, b':') {
                    return Iso::Invalid;
                }
                i += 1;
                let (len, m) = digits(u, &mut i);
                if len != 2 {
                    return Iso::Invalid;
                }
                (n, m)
            }
            _ => return Iso::Invalid,
        };
        if hh > 23 || mm > 59 {
            return Iso::Invalid;
        }
        sign * (hh * 60 + mm) as i64
    } else {
        return Iso::Invalid;
    };
    if i != u.len() {
        return Iso::Invalid;
    }
    Iso::Utc(value - (offset_minutes * 60) as f64 * 1000.0)
}

/// Date.parse on a string: a time value, NaN, or a give-up where V8's legacy parser would decide.
fn parse(u: &[u16]) -> JsResult<f64> {
    match parse_iso(u) {
        Iso::Utc(v) => Ok(time_clip(v)),
        Iso::Local(v) => {
            require_utc()?;
            Ok(time_clip(v))
        }
        Iso::Invalid => Ok(f64::NAN),
        Iso::Other => {
            // The legacy parser needs a number for the day; without any digit its answer is NaN.
            if !u.iter().any(|c| (0x30..=0x39).contains(c)) {
                return Ok(f64::NAN);
            }
            unsupported("Date.parse of a string V8 reads with its legacy parser")
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Date.prototype

/// Replaces the time value of Date `o`.
fn set_time_value(cx: &mut Cx, o: ObjRef, t: f64) -> JsResult<()> {
    if let Some(d) = cx.heap.get_mut(o)?.kind.slots_mut::<DateValue>() {
        d.0 = t;
    }
    Ok(())
}

fn this_date(cx: &Cx, this: &Value) -> JsResult<(ObjRef, f64)> {
    if let Value::Obj(o) = this {
        if let Some(&DateValue(t)) = cx.heap.kind(*o).slots::<DateValue>() {
            return Ok((*o, t));
        }
    }
    engine_error("TypeError: this is not a Date object.")
}

fn get_time(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    Ok(Value::Num(this_date(cx, this)?.1))
}

fn get_timezone_offset(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let t = this_date(cx, this)?.1;
    if t.is_nan() {
        return Ok(Value::Num(f64::NAN));
    }
    require_utc()?;
    Ok(Value::Num(0.0))
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Field {
    Year,
    Month,
    Date,
    Hours,
    Minutes,
    Seconds,
    Ms,
    WeekDay,
}

fn get_field(cx: &mut Cx, this: &Value, field: Field, utc: bool) -> JsResult<Value> {
    let t = this_date(cx, this)?.1;
    if t.is_nan() {
        return Ok(Value::Num(f64::NAN));
    }
    if !utc {
        require_utc()?;
    }
    let p = parts(t);
    let n = match field {
        Field::Year => p.year,
        Field::Month => p.month,
        Field::Date => p.date,
        Field::WeekDay => p.week_day,
        Field::Hours => p.hours,
        Field::Minutes => p.minutes,
        Field::Seconds => p.seconds,
        Field::Ms => p.ms,
    };
    Ok(Value::Num(n as f64))
}

fn set_time(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let (o, _) = this_date(cx, this)?;
    let t = time_clip(ops::to_number(cx, &arg(args, 0))?);
    set_time_value(cx, o, t)?;
    Ok(Value::Num(t))
}

/// The setters (§21.4.4.20-28): `first` is the first field the setter takes; it takes the fields after
/// it up to the end of its group (year, month, date | hours, minutes, seconds, ms) from the arguments
/// present, and the others from the date.
fn set_fields(
    cx: &mut Cx,
    this: &Value,
    args: &[Value],
    first: Field,
    utc: bool,
) -> JsResult<Value> {
    let (o, t0) = this_date(cx, this)?;
    let last = if first <= Field::Date {
        Field::Date
    } else {
        Field::Ms
    };
    let count = (last as usize - first as usize + 1).min(args.len().max(1));
    // V8 converts the first argument, then reads the date, then converts the others only if the date
    // is valid; the spec reads the date first and converts them all. Both agree unless a conversion has
    // an effect, so give up where one could observe the difference.
    if t0.is_nan()
        && first != Field::Year
        && args
            .iter()
            .take(count)
            .skip(1)
            .any(|a| matches!(a, Value::Obj(_)))
    {
        return unsupported("a Date setter on an invalid date with object arguments");
    }
    let mut given = [0.0f64; 4];
    for (k, slot) in given.iter_mut().enumerate().take(count) {
        *slot = ops::to_number(cx, &arg(args, k))?;
    }
    let t = this_date(cx, this)?.1;
    if t.to_bits() != t0.to_bits() {
        return unsupported("a Date setter whose argument conversion changed the date");
    }
    if !utc {
        require_utc()?;
    }
    let t = if t.is_nan() {
        if first != Field::Year {
            return Ok(Value::Num(f64::NAN));
        }
        // setFullYear on an invalid date starts from +0.
        0.0
    } else {
        t
    };
    let p = parts(t);
    let mut f = [
        p.year as f64,
        p.month as f64,
        p.date as f64,
        p.hours as f64,
        p.minutes as f64,
        p.seconds as f64,
        p.ms as f64,
    ];
    for (k, v) in given.iter().enumerate().take(count) {
        f[first as usize + k] = *v;
    }
    let new_date = if first <= Field::Date {
        let within_day = t - day_of(t) as f64 * MS_PER_DAY;
        make_date(make_day(f[0], f[1], f[2]), within_day)
    } else {
        make_date(day_of(t) as f64, make_time(f[3], f[4], f[5], f[6]))
    };
    let u = time_clip(new_date);
    set_time_value(cx, o, u)?;
    Ok(Value::Num(u))
}

const WEEK_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The ISO form `toISOString` prints (§21.4.4.36), or `None` for an invalid date.
pub fn iso_string(t: f64) -> Option<String> {
    if t.is_nan() {
        return None;
    }
    let p = parts(t);
    let year = if (0..=9999).contains(&p.year) {
        format!("{:04}", p.year)
    } else if p.year < 0 {
        format!("-{:06}", -p.year)
    } else {
        format!("+{:06}", p.year)
    };
    Some(format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        year,
        p.month + 1,
        p.date,
        p.hours,
        p.minutes,
        p.seconds,
        p.ms
    ))
}

fn to_iso_string(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let t = this_date(cx, this)?.1;
    match iso_string(t) {
        Some(s) => Ok(Value::str(&s)),
        None => engine_error("RangeError: Invalid time value"),
    }
}

/// Date.prototype.toJSON (§21.4.4.37): generic over any object with a `toISOString` method.
fn to_json(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    if !matches!(this, Value::Obj(_)) {
        return unsupported("Date.prototype.toJSON on a primitive");
    }
    let tv = ops::to_primitive(cx, this, ops::Hint::Number)?;
    if let Value::Num(n) = tv {
        if !n.is_finite() {
            return Ok(Value::Null);
        }
    }
    let f = crate::call::method(cx, this, &crate::props::key("toISOString"))?;
    crate::call::invoke(cx, &f, this.clone(), &[])
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    DateAndTime,
    Date,
    Time,
    Utc,
}

/// V8's `toString`, `toDateString`, `toTimeString` and `toUTCString` forms (its DateCache::ToDateString).
fn format_date(cx: &mut Cx, this: &Value, form: Format) -> JsResult<Value> {
    let t = this_date(cx, this)?.1;
    if t.is_nan() {
        return Ok(Value::str("Invalid Date"));
    }
    let zone_name = if form == Format::Utc {
        ""
    } else {
        require_utc()?;
        match zone().name {
            Some(n) => n,
            None => return unsupported("the name of the local time zone in this locale"),
        }
    };
    let p = parts(t);
    // printf's %04d, and %05d for negative years (the sign counts in the width).
    let year = if p.year < 0 {
        format!("{:05}", p.year)
    } else {
        format!("{:04}", p.year)
    };
    let wd = WEEK_DAYS[p.week_day as usize];
    let mon = MONTHS[p.month as usize];
    let time = format!("{:02}:{:02}:{:02}", p.hours, p.minutes, p.seconds);
    let s = match form {
        Format::Utc => format!("{}, {:02} {} {} {} GMT", wd, p.date, mon, year, time),
        Format::Date => format!("{} {} {:02} {}", wd, mon, p.date, year),
        Format::Time => format!("{} GMT+0000 ({})", time, zone_name),
        Format::DateAndTime => format!(
            "{} {} {:02} {} {} GMT+0000 ({})",
            wd, mon, p.date, year, time, zone_name
        ),
    };
    Ok(Value::str(&s))
}

fn to_locale(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    this_date(cx, this)?;
    unsupported("Date.prototype.toLocale*String (ICU formatting)")
}

/// The realm's Date.prototype.
fn date_proto(cx: &Cx) -> ObjRef {
    cx.realm.proto("Date").expect("Date.prototype is installed")
}

#[cfg(test)]
mod tests;
