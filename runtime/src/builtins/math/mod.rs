//! The Math object (ECMA-262 §21.3).
//!
//! The spec leaves the transcendental functions "implementation-approximated"; Node 26 answers with
//! V8's ports of fdlibm, so matching Node means matching those bit for bit. What we compute:
//!
//! - exact by definition: abs, ceil, floor, round, trunc, sign, sqrt, fround, imul, clz32, max, min;
//! - fdlibm's algorithms written out here as V8 has them: sin, cos, tan with their argument
//!   reduction (`trig`), exp (V8 answers exp(1) with Math.E), log, log1p, log2, log10, cbrt, tanh,
//!   asinh, acosh, atanh, and V8's own formulas for sinh, cosh and atan2 (`fdlibm`);
//! - the `libm` crate where its code is fdlibm's: acos, asin, atan, expm1 (its sin, cos, tan, exp,
//!   log, log2, log10, log1p, cbrt and the hyperbolics are musl's or newer algorithms, which round
//!   differently on a fraction of arguments);
//! - hypot as V8 sums it (Kahan compensation over values scaled by the largest);
//! - pow as Node 26's V8 computes it (`ops::js_pow`): a few cases of its own, then the C library's
//!   `pow`, which the runtime calls too, so the two agree wherever they run on the same C library.
//!
//! `tests.rs` compares every one of these with Node bit for bit: 200,000 arguments per function by
//! default (`CL_MATH_DIFF_N` raises it), drawn over every exponent and around each function's hard
//! places (multiples of π/4 up to the largest doubles, thresholds, overflow edges, near 1 and 0).
//!
//! Math.random draws from a xorshift64* generator seeded from the clock on first use; programs cannot
//! observe the difference from V8's generator except by predicting it.

use crate::builtin;
use crate::builtins::arg;
use crate::cx::Abort;
use crate::cx::{Cx, JsResult};
use crate::ops;
use crate::realm::Installer;
use crate::value::Value;

mod fdlibm;
mod trig;

macro_rules! unary {
    ($id:ident, $name:expr, $f:expr) => {
        builtin!(
            $id,
            $name,
            1,
            |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
                let x = ops::to_number(cx, &arg(args, 0))?;
                let f: fn(f64) -> f64 = $f;
                Ok(Value::Num(f(x)))
            },
            returns_number
        );
    };
}

unary!(ABS, "Math.abs", direct::abs);
unary!(ACOS, "Math.acos", libm::acos);
unary!(ACOSH, "Math.acosh", fdlibm::acosh);
unary!(ASIN, "Math.asin", libm::asin);
unary!(ASINH, "Math.asinh", fdlibm::asinh);
unary!(ATAN, "Math.atan", libm::atan);
unary!(ATANH, "Math.atanh", fdlibm::atanh);
unary!(CBRT, "Math.cbrt", fdlibm::cbrt);
unary!(CEIL, "Math.ceil", direct::ceil);
unary!(COS, "Math.cos", trig::cos);
unary!(COSH, "Math.cosh", fdlibm::cosh);
unary!(EXP, "Math.exp", fdlibm::exp);
unary!(EXPM1, "Math.expm1", libm::expm1);
unary!(FLOOR, "Math.floor", direct::floor);
unary!(FROUND, "Math.fround", |x| x as f32 as f64);
unary!(LOG, "Math.log", fdlibm::log);
unary!(LOG10, "Math.log10", fdlibm::log10);
unary!(LOG1P, "Math.log1p", fdlibm::log1p);
unary!(LOG2, "Math.log2", fdlibm::log2);
unary!(ROUND, "Math.round", direct::round);
unary!(SIGN, "Math.sign", direct::sign);
unary!(SIN, "Math.sin", trig::sin);
unary!(SINH, "Math.sinh", fdlibm::sinh);
unary!(SQRT, "Math.sqrt", direct::sqrt);
unary!(TAN, "Math.tan", trig::tan);
unary!(TANH, "Math.tanh", fdlibm::tanh);
unary!(TRUNC, "Math.trunc", direct::trunc);

builtin!(
    ATAN2,
    "Math.atan2",
    2,
    |cx: &mut Cx, _this: &Value, args: &[Value]| -> JsResult<Value> {
        let y = ops::to_number(cx, &arg(args, 0))?;
        let x = ops::to_number(cx, &arg(args, 1))?;
        Ok(Value::Num(fdlibm::atan2(y, x)))
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
        let a = ops::to_number(cx, &arg(args, 0))?;
        let b = ops::to_number(cx, &arg(args, 1))?;
        Ok(Value::Num(direct::imul(a, b)))
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
            r = direct::max(r, ops::to_number(cx, a)?);
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
            r = direct::min(r, ops::to_number(cx, a)?);
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

/// The Math functions generated code calls directly on numbers, where the call site's guard has admitted
/// only that builtin (`Math.floor(x)` with `x` a number is `direct::floor(x)`, with no call through the
/// builtin's table): the same functions the builtins compute with, so the two cannot differ.
pub mod direct {
    use crate::ops;

    #[inline]
    pub fn abs(x: f64) -> f64 {
        x.abs()
    }
    #[inline]
    pub fn ceil(x: f64) -> f64 {
        x.ceil()
    }
    #[inline]
    pub fn floor(x: f64) -> f64 {
        x.floor()
    }
    #[inline]
    pub fn round(x: f64) -> f64 {
        super::round(x)
    }
    #[inline]
    pub fn sqrt(x: f64) -> f64 {
        x.sqrt()
    }
    #[inline]
    pub fn trunc(x: f64) -> f64 {
        x.trunc()
    }
    #[inline]
    pub fn sign(x: f64) -> f64 {
        if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            x
        }
    }
    #[inline]
    pub fn imul(a: f64, b: f64) -> f64 {
        ops::f64_to_int32(a).wrapping_mul(ops::f64_to_int32(b)) as f64
    }
    #[inline]
    pub fn pow(x: f64, y: f64) -> f64 {
        ops::js_pow(x, y)
    }
    /// One step of Math.max: NaN wins, and +0 is larger than -0.
    #[inline]
    pub fn max(r: f64, n: f64) -> f64 {
        if n.is_nan() || r.is_nan() {
            f64::NAN
        } else if n > r || (n == 0.0 && r == 0.0 && !n.is_sign_negative()) {
            n
        } else {
            r
        }
    }
    /// One step of Math.min: NaN wins, and -0 is smaller than +0.
    #[inline]
    pub fn min(r: f64, n: f64) -> f64 {
        if n.is_nan() || r.is_nan() {
            f64::NAN
        } else if n < r || (n == 0.0 && r == 0.0 && n.is_sign_negative()) {
            n
        } else {
            r
        }
    }
}

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
#[inline]
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
