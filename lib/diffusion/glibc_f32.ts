/**
 * Ports of glibc's float `logf` and `sincosf` (sysdeps/ieee754/flt-32/e_logf.c, s_sincosf.c,
 * sincosf_poly.h; glibc 2.28+), as torch's scalar normal kernel calls them. Both compute in
 * double and round once to float32. x86-64 glibc picks an FMA build on FMA CPUs; on the inputs
 * the noise kernel can produce (1 - k/2^24 for logf, float(2*pi*k/2^24) for sincosf, k < 2^24)
 * it returns the same floats as the unfused SSE2 build, which is what this plain double
 * arithmetic reproduces (checked for all 2^24 inputs of each). Only those argument ranges are
 * supported: logf on (0, 1], sincosf on [0, 120).
 */

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

// Constants: glibc's hexadecimal float literals written as shortest round-trip decimals.
// e_logf_data.c: LOGF_TABLE_BITS = 4, (invc, logc) pairs, ln2 and the log1p polynomial.
const LOGF_INVC = [
  1.398907162146528,
  1.3403141896637998,
  1.286432210124115,
  1.2367150214269895,
  1.1906977166711752,
  1.1479821020556429,
  1.1082251448272158,
  1.0711297413057381,
  1.036437278977283,
  1.0,
  0.9492859795739057,
  0.8951049428609004,
  0.8476821620351103,
  0.8050314851692001,
  0.7664671008843108,
  0.731428603316328,
];
const LOGF_LOGC = [
  -0.33569133332882284,
  -0.2929040563774074,
  -0.2518726580937369,
  -0.21245868807117255,
  -0.17453945183745634,
  -0.1380057072319758,
  -0.10275976698545139,
  -0.06871392447020525,
  -0.0357891387398228,
  0,
  0.05204517742929496,
  0.11081431298787942,
  0.1652495223695143,
  0.21687389031699977,
  0.2659635028121397,
  0.3127556664073557,
];
const LN2 = 0.6931471805599453;
const A0 = -0.25089342214237154;
const A1 = 0.333456765744066;
const A2 = -0.4999997485802103;
const OFF = 0x3f330000;

/** glibc `logf` for a normal float32 x in (0, 1]; returns the float32 result as a number. */
export function glibcLogf(x: number): number {
  F32[0] = x;
  const ix = U32[0];
  if (ix === 0x3f800000) return 0;
  if (ix < 0x00800000 || ix >= 0x7f800000) {
    throw new RangeError(`glibcLogf: unsupported argument ${x}`);
  }
  const tmp = (ix - OFF) | 0;
  const i = (tmp >>> 19) & 15;
  const k = tmp >> 23;
  U32[0] = (ix - (tmp & (0x1ff << 23))) >>> 0;
  const z = F32[0];
  // log(x) = log1p(z/c - 1) + log(c) + k*ln2
  const r = z * LOGF_INVC[i] - 1;
  const y0 = LOGF_LOGC[i] + k * LN2;
  const r2 = r * r;
  let y = A1 * r + A2;
  y = A0 * r2 + y;
  y = y * r2 + (y0 + r);
  return Math.fround(y);
}

// s_sincosf_data.c: the second table negates the cosine polynomial (quadrants with n & 2).
const HPI_INV = 10680707.430881744;
const HPI = 1.5707963267948966;
/** Cosine polynomial c0..c4 (table 0) and its negation (table 1). */
const TABLE_POS = [
  1,
  -0.49999999725108224,
  0.041666623324344516,
  -0.001388676379437604,
  2.4390450703564542e-05,
];
const TABLE_NEG = TABLE_POS.map((v) => -v);
const S1 = -0.16666654943701084;
const S2 = 0.008332178146138854;
const S3 = -0.00019517298981385725;
const QUADRANT_SIGN = [1, -1, -1, 1];

function abstop12(bits: number): number {
  return (bits >>> 20) & 0x7ff;
}
const TOP12_PIO4 = 0x3f4; // abstop12((float) pi/4)
const TOP12_TINY = 0x398; // abstop12(0x1p-12f)
const TOP12_120 = 0x42f; // abstop12(120.0f)

/**
 * glibc `sincosf` for a float32 y in [0, 120): writes float32 sin(y) to out[0] and cos(y) to
 * out[1].
 */
export function glibcSincosf(y: number, out: Float64Array): void {
  F32[0] = y;
  const top = abstop12(U32[0]);
  let x = y;
  let n = 0;
  let sign = 1;
  if (top < TOP12_PIO4) {
    if (top < TOP12_TINY) {
      out[0] = y;
      out[1] = 1;
      return;
    }
  } else if (top < TOP12_120) {
    const r = x * HPI_INV;
    n = ((Math.trunc(r) | 0) + 0x800000) >> 24;
    x = x - n * HPI;
    sign = QUADRANT_SIGN[n & 3];
  } else {
    throw new RangeError(`glibcSincosf: unsupported argument ${y}`);
  }
  const t = (n & 2) === 0 ? TABLE_POS : TABLE_NEG;
  const x2 = x * x;
  const xs = x * sign;
  // sincosf_poly(xs, x2, table, n)
  const x4 = x2 * x2;
  const x3 = x2 * xs;
  const c2 = t[3] + x2 * t[4];
  const s1 = S2 + x2 * S3;
  const c1 = t[0] + x2 * t[1];
  const x5 = x3 * x2;
  const x6 = x4 * x2;
  const s = xs + x3 * S1;
  const c = c1 + x4 * t[2];
  const sinPoly = Math.fround(s + x5 * s1);
  const cosPoly = Math.fround(c + x6 * c2);
  if ((n & 1) === 0) {
    out[0] = sinPoly;
    out[1] = cosPoly;
  } else {
    out[0] = cosPoly;
    out[1] = sinPoly;
  }
}
