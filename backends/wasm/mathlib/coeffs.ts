/**
 * Constants and polynomial coefficients of the math library.
 *
 * The polynomials are minimax fits (Remez exchange on a dense grid, minimising the relative
 * error of the final function unless noted), with the coefficients rounded to f32 one at a
 * time from the lowest order up and the remaining ones refitted after each rounding, so the
 * rounding of the leading terms is compensated. "err" is the fit's max error before f32
 * evaluation rounding (the evaluation adds about half an ulp; the tests measure the total).
 * The pow polynomials are f64 fits (no rounding step).
 */

/** log2(e), and ln(2) split so that `n * LN2_HI` is exact for |n| < 2^15. */
export const LOG2E = 1.4426950408889634;
export const LN2_HI = 0.693359375;
export const LN2_LO = -2.1219444170128554e-4;

/** e^r = 1 + r + r^2 * P(r) for |r| <= ln2/2; err 2^-30.7. */
export const EXP_P = [
  0.5, 0.16666647791862488, 0.041666481643915176, 0.008337854407727718, 0.0013934128219261765,
  0.00017419125651940703,
];

/** log(1+f) = f - f^2/2 + f^3 * P(f) for f in [sqrt(1/2)-1, sqrt(2)-1]; err 2^-28.2. */
export const LOG_P = [
  0.3333331346511841, -0.2500016689300537, 0.20002222061157227, -0.1665937304496765, 0.1420963853597641,
  -0.12549607455730438, 0.12107975780963898, -0.10916494578123093, 0.05342948064208031,
];

/** sin(r) = r + r^3 * S(r^2) for |r| <= pi/4; err 2^-32. */
export const SIN_S = [-0.1666666716337204, 0.008333379402756691, -0.00019853064441122115, 0.000002831633764799335];

/** cos(r) = 1 - r^2/2 + r^4 * C(r^2) for |r| <= pi/4; err 2^-32.3. */
export const COS_C = [0.04166664555668831, -0.0013887309469282627, 0.000024431825295323506];

/** tan(r) = r + r^3 * T(r^2) for |r| <= pi/4; err 2^-27.7. */
export const TAN_T = [
  0.3333333134651184, 0.13333433866500854, 0.053951043635606766, 0.022010497748851776, 0.008232949301600456,
  0.00521716196089983, -0.0008874714258126915, 0.002201511524617672,
];

/** asin(x) = x + x^3 * P(x^2) for |x| <= 1/2; err 2^-30.8. */
export const ASIN_P = [
  0.16666662693023682, 0.07500383257865906, 0.04453602433204651, 0.03167051076889038, 0.0148991784080863,
  0.036932140588760376,
];

/** atan(t) = t + t^3 * P(t^2) for |t| <= tan(pi/8); err 2^-32.3. */
export const ATAN_P = [
  -0.3333333134651184, 0.19999802112579346, -0.14279131591320038, 0.11009585857391357, -0.0828513652086258,
  0.04363473132252693,
];

/** tanh(x) = x + x^3 * P(x^2) for |x| < TANH_SMALL; err 2^-31.8. */
export const TANH_SMALL = 0.625;
export const TANH_P = [
  -0.3333333134651184, 0.13333220779895782, -0.05394817888736725, 0.021706894040107727, -0.008190014399588108,
  0.0021526545751839876,
];

/** sinh(x) = x + x^3 * P(x^2) for |x| < 1; err 2^-31.3. */
export const SINH_P = [0.1666666716337204, 0.008333306759595871, 0.00019843873451463878, 0.0000027760586363001494];

/** erf(x) = x + x * P(x^2) for |x| < ERF_SMALL; err 2^-29.4. */
export const ERF_SMALL = 0.921875;
export const ERF_P = [
  0.12837916612625122, -0.3761262893676758, 0.11283625662326813, -0.026855729520320892, 0.005192405544221401,
  -0.0008049930911511183, 0.00007998468936420977,
];

/**
 * -log(erfc(a)) = G(a) for a in [ERF_SMALL, 4], weighted by erfc(a) (so the fit bounds the
 * absolute error of erf = 1 - exp(-G)); err 2^-32.4.
 */
export const ERF_G = [
  -0.00018436729442328215, 1.1295642852783203, 0.6332410573959351, 0.108403779566288, -0.025204386562108994,
  0.0042053209617733955, -0.00044196052476763725, 0.000021781230316264555,
];

/** f32 splits of pi, pi/2, pi/4: HI = fround(c), LO = fround(c - HI). */
export const PI_HI = 3.1415927410125732, PI_LO = -8.742277657347586e-8;
export const PIO2_HI = 1.5707963705062866, PIO2_LO = -4.371138828673793e-8;
export const PIO4_HI = 0.7853981852531433, PIO4_LO = -2.1855694143368964e-8;

/**
 * Trig reduction in f64 for |x| < TRIG_FAST_MAX: q = nearest(x * 2/pi) < 2^20, and
 * r = (x - q*PIO2_C1) - q*PIO2_C2 where PIO2_C1 is pi/2 to 33 bits (so q*PIO2_C1 and the first
 * subtraction are exact) and PIO2_C2 the next 53 bits.
 */
export const TWO_OVER_PI = 0.6366197723675814;
export const PIO2_C1 = 1.5707963267341256;
export const PIO2_C2 = 6.077100506506192e-11;
export const TRIG_FAST_MAX = 1.5e6;

/**
 * Bits of 2/pi for the Payne-Hanek reduction of |x| >= TRIG_FAST_MAX, 32 per word, most
 * significant first, after one word of zeros (so windows may start before the binary point).
 */
export const TWO_OVER_PI_WORDS = [
  0x00000000, 0xa2f9836e, 0x4e441529, 0xfc2757d1, 0xf534ddc0, 0xdb629599, 0x3c439041, 0xfe5163ab,
];

/** pi/2 * 2^-62: scales the 62-bit fixed-point fraction of the Payne-Hanek reduction. */
export const PIO2_2M62 = 3.4061215800865545e-19;
