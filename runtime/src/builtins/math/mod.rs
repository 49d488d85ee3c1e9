//! The Math object (ECMA-262 §21.3).
//!
//! The spec leaves the transcendental functions "implementation-approximated"; Node answers with V8's
//! ports of fdlibm (and of glibc for sin and cos), so matching Node means matching those bit for bit.
//! What we compute, and how we know it matches (the differential test below, run on Node 26 with
//! `CLRT_DIFF_SCALE=100`, compares 30,000 inputs per function):
//!
//! - exact by definition: abs, ceil, floor, round, trunc, sign, sqrt, fround, imul, clz32, max, min;
//! - the `libm` crate (a port of FreeBSD's msun, itself fdlibm) where its algorithm is V8's: acos, asin,
//!   atan, expm1, log2, tan, and exp (V8 special-cases exp(1) to return Math.E);
//! - V8's own formulas over those: atan2, sinh, cosh, and hypot (V8's Kahan sum over scaled values);
//! - pow as Node 26's V8 computes it (`ops::js_pow`): a few cases of its own, then the C library's
//!   `pow`, which the runtime calls too, so the two agree wherever they run on the same C library;
//! - everything else — sin, cos, log, log10, log1p, cbrt, tanh, asinh, acosh, atanh — gives up
//!   except for arguments whose result every implementation agrees on (NaN, infinities, zeros, 1, tiny
//!   arguments where f(x) rounds to x).
//!
//! Math.random draws from a xorshift64* generator seeded from the clock on first use; programs cannot
//! observe the difference from V8's generator except by predicting it.

use crate::builtin;
use crate::builtins::arg;
use crate::cx::Abort;
use crate::cx::{unsupported, Cx, JsResult};
use crate::ops;
use crate::realm::Installer;
use crate::value::Value;

macro_rules! unary {
    ($id:ident, $name:expr, $f:expr) => {
        builtin!(
            $id,
            $name,
            1,
            |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
                let x = ops::to_number(cx, &arg(args, 0))?;
                let f: fn(f64) -> JsResult<f64> = $f;
                Ok(Value::Num(f(x)?))
            },
            returns_number
        );
    };
}

fn ok(v: f64) -> JsResult<f64> {
    Ok(v)
}

fn give_up(name: &'static str) -> JsResult<f64> {
    unsupported(name)
}

/// The high 32 bits of a double, as fdlibm reads it.
fn hi_word(x: f64) -> u32 {
    (x.to_bits() >> 32) as u32
}

/// |x| < 2^-27: sin, asinh, atanh, tanh and friends round to x there in every implementation.
fn tiny(x: f64) -> bool {
    hi_word(x) & 0x7fff_ffff < 0x3E40_0000
}

unary!(ABS, "Math.abs", |x| ok(x.abs()));
unary!(ACOS, "Math.acos", |x| ok(libm::acos(x)));
unary!(ACOSH, "Math.acosh", |x| {
    if x.is_nan() || x < 1.0 {
        ok(f64::NAN)
    } else if x == 1.0 {
        ok(0.0)
    } else if x == f64::INFINITY {
        ok(x)
    } else {
        give_up("Math.acosh: V8's log1p and log are not reproduced")
    }
});
unary!(ASIN, "Math.asin", |x| ok(libm::asin(x)));
unary!(ASINH, "Math.asinh", |x| {
    if !x.is_finite() || tiny(x) {
        ok(x)
    } else {
        give_up("Math.asinh: V8's log1p and log are not reproduced")
    }
});
unary!(ATAN, "Math.atan", |x| ok(libm::atan(x)));
unary!(ATANH, "Math.atanh", |x| {
    if x.is_nan() || x.abs() > 1.0 {
        ok(f64::NAN)
    } else if x.abs() == 1.0 {
        ok(x * f64::INFINITY)
    } else if tiny(x) {
        ok(x)
    } else {
        give_up("Math.atanh: V8's log1p is not reproduced")
    }
});
unary!(CBRT, "Math.cbrt", |x| {
    if !x.is_finite() || x == 0.0 {
        ok(x)
    } else {
        give_up("Math.cbrt: V8's cbrt is not reproduced")
    }
});
unary!(CEIL, "Math.ceil", |x| ok(x.ceil()));
unary!(COS, "Math.cos", |x| {
    if !x.is_finite() {
        ok(f64::NAN)
    } else if tiny(x) {
        ok(1.0)
    } else {
        give_up("Math.cos: V8's cos is not reproduced")
    }
});
unary!(COSH, "Math.cosh", |x| ok(cosh(x)));
unary!(EXP, "Math.exp", |x| ok(exp(x)));
unary!(EXPM1, "Math.expm1", |x| ok(libm::expm1(x)));
unary!(FLOOR, "Math.floor", |x| ok(x.floor()));
unary!(FROUND, "Math.fround", |x| ok(x as f32 as f64));
unary!(LOG, "Math.log", |x| {
    if x.is_nan() || x < 0.0 {
        ok(f64::NAN)
    } else if x == 0.0 {
        ok(f64::NEG_INFINITY)
    } else if x == 1.0 {
        ok(0.0)
    } else if x == f64::INFINITY {
        ok(x)
    } else {
        give_up("Math.log: V8's log is not reproduced")
    }
});
unary!(LOG10, "Math.log10", |x| {
    if x.is_nan() || x < 0.0 {
        ok(f64::NAN)
    } else if x == 0.0 {
        ok(f64::NEG_INFINITY)
    } else if x == 1.0 {
        ok(0.0)
    } else if x == f64::INFINITY {
        ok(x)
    } else {
        give_up("Math.log10: V8's log10 is not reproduced")
    }
});
unary!(LOG1P, "Math.log1p", |x| {
    if x.is_nan() || x < -1.0 {
        ok(f64::NAN)
    } else if x == -1.0 {
        ok(f64::NEG_INFINITY)
    } else if x == f64::INFINITY || hi_word(x) & 0x7fff_ffff < 0x3C90_0000 {
        ok(x)
    } else {
        give_up("Math.log1p: V8's log1p is not reproduced")
    }
});
unary!(LOG2, "Math.log2", |x| ok(libm::log2(x)));
unary!(ROUND, "Math.round", |x| ok(round(x)));
unary!(SIGN, "Math.sign", |x| ok(if x > 0.0 {
    1.0
} else if x < 0.0 {
    -1.0
} else {
    x
}));
unary!(SIN, "Math.sin", |x| {
    if !x.is_finite() {
        ok(f64::NAN)
    } else if tiny(x) {
        ok(x)
    } else {
        give_up("Math.sin: V8's sin is not reproduced")
    }
});
unary!(SINH, "Math.sinh", |x| ok(sinh(x)));
unary!(SQRT, "Math.sqrt", |x| ok(x.sqrt()));
unary!(TAN, "Math.tan", |x| ok(libm::tan(x)));
unary!(TANH, "Math.tanh", |x| {
    if x.is_nan() || tiny(x) {
        ok(x)
    } else if x.abs() >= 22.0 {
        ok(x.signum())
    } else {
        give_up("Math.tanh: V8's tanh is not reproduced")
    }
});
unary!(TRUNC, "Math.trunc", |x| ok(x.trunc()));

builtin!(
    ATAN2,
    "Math.atan2",
    2,
    |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
        let y = ops::to_number(cx, &arg(args, 0))?;
        let x = ops::to_number(cx, &arg(args, 1))?;
        Ok(Value::Num(atan2(y, x)))
    },
    returns_number
);
builtin!(
    POW,
    "Math.pow",
    2,
    |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
        let x = ops::to_number(cx, &arg(args, 0))?;
        let y = ops::to_number(cx, &arg(args, 1))?;
        Ok(Value::Num(ops::js_pow(x, y)))
    },
    returns_number
);
builtin!(
    IMUL,
    "Math.imul",
    2,
    |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
        let a = ops::f64_to_int32(ops::to_number(cx, &arg(args, 0))?);
        let b = ops::f64_to_int32(ops::to_number(cx, &arg(args, 1))?);
        Ok(Value::Num(a.wrapping_mul(b) as f64))
    },
    returns_number
);
builtin!(
    CLZ32,
    "Math.clz32",
    1,
    |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
        let n = ops::f64_to_uint32(ops::to_number(cx, &arg(args, 0))?);
        Ok(Value::Num(n.leading_zeros() as f64))
    },
    returns_number
);
builtin!(
    HYPOT,
    "Math.hypot",
    2,
    |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
        let mut v = Vec::with_capacity(args.len());
        for a in args {
            v.push(ops::to_number(cx, a)?);
        }
        Ok(Value::Num(hypot(&v)))
    },
    returns_number
);
builtin!(
    MAX,
    "Math.max",
    2,
    |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
        let mut r = f64::NEG_INFINITY;
        for a in args {
            let n = ops::to_number(cx, a)?;
            if n.is_nan() || r.is_nan() {
                r = f64::NAN;
            } else if n > r || (n == 0.0 && r == 0.0 && !n.is_sign_negative()) {
                r = n;
            }
        }
        Ok(Value::Num(r))
    },
    returns_number
);
builtin!(
    MIN,
    "Math.min",
    2,
    |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
        let mut r = f64::INFINITY;
        for a in args {
            let n = ops::to_number(cx, a)?;
            if n.is_nan() || r.is_nan() {
                r = f64::NAN;
            } else if n < r || (n == 0.0 && r == 0.0 && n.is_sign_negative()) {
                r = n;
            }
        }
        Ok(Value::Num(r))
    },
    returns_number
);
builtin!(
    RANDOM,
    "Math.random",
    0,
    |_cx: &mut Cx, _this: &Value, _args: &[Value]| -> JsResult<Value> { Ok(Value::Num(random())) },
    returns_number
);

/// Installs math's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let math = r.namespace("Math")?;
    r.statics(
        math,
        &[
            ("abs", &ABS),
            ("acos", &ACOS),
            ("acosh", &ACOSH),
            ("asin", &ASIN),
            ("asinh", &ASINH),
            ("atan", &ATAN),
            ("atan2", &ATAN2),
            ("atanh", &ATANH),
            ("cbrt", &CBRT),
            ("ceil", &CEIL),
            ("clz32", &CLZ32),
            ("cos", &COS),
            ("cosh", &COSH),
            ("exp", &EXP),
            ("expm1", &EXPM1),
            ("floor", &FLOOR),
            ("fround", &FROUND),
            ("hypot", &HYPOT),
            ("imul", &IMUL),
            ("log", &LOG),
            ("log10", &LOG10),
            ("log1p", &LOG1P),
            ("log2", &LOG2),
            ("max", &MAX),
            ("min", &MIN),
            ("pow", &POW),
            ("random", &RANDOM),
            ("round", &ROUND),
            ("sign", &SIGN),
            ("sin", &SIN),
            ("sinh", &SINH),
            ("sqrt", &SQRT),
            ("tan", &TAN),
            ("tanh", &TANH),
            ("trunc", &TRUNC),
        ],
    )?;
    for (key, v) in constants() {
        r.constant(Some(math), key, v)?;
    }
    Ok(())
}

/// Math's constants (ECMA-262 §21.3.1).
fn constants() -> Vec<(&'static str, Value)> {
    use std::f64::consts;
    vec![
        ("E", Value::Num(consts::E)),
        ("LN10", Value::Num(consts::LN_10)),
        ("LN2", Value::Num(consts::LN_2)),
        ("LOG10E", Value::Num(consts::LOG10_E)),
        ("LOG2E", Value::Num(consts::LOG2_E)),
        ("PI", Value::Num(consts::PI)),
        ("SQRT1_2", Value::Num(consts::FRAC_1_SQRT_2)),
        ("SQRT2", Value::Num(consts::SQRT_2)),
    ]
}

/// Math.round (ECMA-262 §21.3.2.28): the integer closest to x, halves toward +∞, -0 kept for
/// x in [-0.5, -0].
pub fn round(x: f64) -> f64 {
    if !x.is_finite() || x.trunc() == x {
        return x;
    }
    let f = x.floor();
    let r = if x - f >= 0.5 { f + 1.0 } else { f };
    if r == 0.0 && x < 0.0 {
        -0.0
    } else {
        r
    }
}

/// exp as V8 computes it: fdlibm's, except that exp(1) is Math.E.
pub fn exp(x: f64) -> f64 {
    if x == 1.0 {
        std::f64::consts::E
    } else {
        libm::exp(x)
    }
}

/// atan2 by fdlibm's method (the special cases of ECMA-262 §21.3.2.8, then atan of |y/x| folded into
/// the right quadrant with π split in two parts), over libm's atan.
pub fn atan2(y: f64, x: f64) -> f64 {
    const PI_O_4: f64 = f64::from_bits(0x3FE9_21FB_5444_2D18);
    const PI_O_2: f64 = f64::from_bits(0x3FF9_21FB_5444_2D18);
    const PI: f64 = f64::from_bits(0x4009_21FB_5444_2D18);
    const PI_LO: f64 = f64::from_bits(0x3CA1_A626_3314_5C07);
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 1.0 {
        return libm::atan(y);
    }
    let y_neg = y.is_sign_negative();
    let x_neg = x.is_sign_negative();
    let signed = |v: f64| if y_neg { -v } else { v };
    if y == 0.0 {
        return if x_neg { signed(PI) } else { y };
    }
    if x == 0.0 {
        return signed(PI_O_2);
    }
    if x.is_infinite() {
        if y.is_infinite() {
            return signed(if x_neg { 3.0 * PI_O_4 } else { PI_O_4 });
        }
        return if x_neg { signed(PI) } else { signed(0.0) };
    }
    if y.is_infinite() {
        return signed(PI_O_2);
    }
    // The difference of the binary exponents decides whether y/x is huge or tiny.
    let k = ((hi_word(y) & 0x7fff_ffff) as i32 - (hi_word(x) & 0x7fff_ffff) as i32) >> 20;
    if k > 60 {
        return signed(PI_O_2 + 0.5 * PI_LO);
    }
    let z = if x_neg && k < -60 {
        0.0
    } else {
        libm::atan((y / x).abs())
    };
    match (y_neg, x_neg) {
        (false, false) => z,
        (true, false) => -z,
        (false, true) => PI - (z - PI_LO),
        (true, true) => (z - PI_LO) - PI,
    }
}

const LOG_MAX_DOUBLE_HI: f64 = 709.7822265625; // high word 0x40862E42, low word 0
const HYPERBOLIC_OVERFLOW: f64 = 710.4758600739439;

/// sinh by V8's formulas: from expm1 below 22, from exp above, split near overflow.
pub fn sinh(x: f64) -> f64 {
    let h = if x < 0.0 { -0.5 } else { 0.5 };
    let ax = x.abs();
    if ax < 22.0 {
        if ax < f64::from_bits(0x3E30_0000_0000_0000) {
            return x;
        }
        let t = libm::expm1(ax);
        if ax < 1.0 {
            return h * (2.0 * t - t * t / (t + 1.0));
        }
        return h * (t + t / (t + 1.0));
    }
    if ax < LOG_MAX_DOUBLE_HI {
        return h * exp(ax);
    }
    if ax <= HYPERBOLIC_OVERFLOW {
        let w = exp(0.5 * ax);
        let t = h * w;
        return t * w;
    }
    x * 1.0e307
}

/// cosh by V8's formulas.
pub fn cosh(x: f64) -> f64 {
    let ix = hi_word(x) & 0x7fff_ffff;
    let ax = x.abs();
    if ix < 0x3FD6_2E43 {
        let t = libm::expm1(ax);
        let w = 1.0 + t;
        if ix < 0x3C80_0000 {
            return w;
        }
        return 1.0 + (t * t) / (w + w);
    }
    if ix < 0x4036_0000 {
        let t = exp(ax);
        return 0.5 * t + 0.5 / t;
    }
    if ix < 0x4086_2E42 {
        return 0.5 * exp(ax);
    }
    if ax <= HYPERBOLIC_OVERFLOW {
        let w = exp(0.5 * ax);
        let t = 0.5 * w;
        return t * w;
    }
    if x.is_nan() {
        return x;
    }
    f64::INFINITY
}

/// Math.hypot as V8 computes it: Infinity wins over NaN, then the values scaled by the largest are
/// summed with Kahan compensation.
pub fn hypot(v: &[f64]) -> f64 {
    let mut nan = false;
    let mut max: f64 = 0.0;
    for &x in v {
        if x.is_nan() {
            nan = true;
        } else if x.abs() > max {
            max = x.abs();
        }
    }
    if max == f64::INFINITY {
        return max;
    }
    if nan {
        return f64::NAN;
    }
    if max == 0.0 {
        return 0.0;
    }
    let mut sum = 0.0;
    let mut compensation = 0.0;
    for &x in v {
        let n = x.abs() / max;
        let summand = n * n - compensation;
        let preliminary = sum + summand;
        compensation = (preliminary - sum) - summand;
        sum = preliminary;
    }
    sum.sqrt() * max
}

thread_local! {
    static RNG: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A double in [0, 1) from xorshift64*, seeded from the clock on first use.
fn random() -> f64 {
    RNG.with(|s| {
        let mut x = s.get();
        if x == 0 {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(1);
            x = (t as u64) ^ 0x9E37_79B9_7F4A_7C15;
            if x == 0 {
                x = 1;
            }
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests;
