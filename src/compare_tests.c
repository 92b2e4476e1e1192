/*
 * compare_tests.c - the statistics behind the aggregates of a comparison
 * (slope/compare.h): Student's t distribution (through the regularized
 * incomplete beta function, by its continued fraction), Welch's t-test and
 * Fisher's exact test.  Written from the formulas; test_compare.c checks
 * them against closed forms and published values.
 */
#include <math.h>

#include "compare_internal.h"

#define CF_MAX_TERMS 300
#define CF_EPS 1e-15
#define CF_TINY 1e-300

/* The continued fraction of I_x(a, b) (for x < (a + 1) / (a + b + 2), where it converges
 * fast):  1 / (1 + d1 / (1 + d2 / (1 + ...))) with
 *   d(2m+1) = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
 *   d(2m)   = m (b - m) x / ((a + 2m - 1)(a + 2m)),
 * evaluated by Lentz's method. */
static double beta_fraction(double a, double b, double x)
{
    double f = CF_TINY, c = CF_TINY, d = 0.0;
    for (int j = 1; j <= CF_MAX_TERMS; j++) {
        double num;
        if (j == 1) {
            num = 1.0;
        } else {
            int k = j - 1, m = k / 2; /* the coefficient d(k) */
            num = k % 2 ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                        : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        }
        d = 1.0 + num * d;
        d = fabs(d) < CF_TINY ? CF_TINY : d;
        c = 1.0 + num / c;
        c = fabs(c) < CF_TINY ? CF_TINY : c;
        d = 1.0 / d;
        double delta = c * d;
        f *= delta;
        if (fabs(delta - 1.0) < CF_EPS)
            break;
    }
    return f;
}

/* The regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1. */
static double inc_beta(double a, double b, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    if (x > (a + 1.0) / (a + b + 2.0)) /* I_x(a, b) = 1 - I_(1-x)(b, a) */
        return 1.0 - inc_beta(b, a, 1.0 - x);
    double log_front = a * log(x) + b * log1p(-x) - (lgamma(a) + lgamma(b) - lgamma(a + b));
    return exp(log_front) / a * beta_fraction(a, b, x);
}

/* P(|T| >= |t|) = I_(df / (df + t^2))(df / 2, 1 / 2). */
static double t_two_sided(double t, double df)
{
    if (isinf(t))
        return 0.0;
    return inc_beta(0.5 * df, 0.5, df / (df + t * t));
}

double sl_compare_t_cdf(double t, double df)
{
    if (!(df > 0.0) || isnan(t))
        return NAN;
    double tail = 0.5 * t_two_sided(t, df);
    return t > 0.0 ? 1.0 - tail : tail;
}

double sl_compare_t_quantile(double p, double df)
{
    if (!(p > 0.0 && p < 1.0) || !(df > 0.0))
        return NAN;
    if (p < 0.5)
        return -sl_compare_t_quantile(1.0 - p, df);
    double lo = 0.0, hi = 1.0;
    while (sl_compare_t_cdf(hi, df) < p && hi < 1e300)
        hi *= 2.0;
    for (int i = 0; i < 400 && hi - lo > 1e-13 * hi; i++) { /* bisection: the cdf is monotone */
        double mid = 0.5 * (lo + hi);
        if (sl_compare_t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* log C(n, k). */
static double log_choose(int64_t n, int64_t k)
{
    return lgamma((double)n + 1.0) - lgamma((double)k + 1.0) - lgamma((double)(n - k) + 1.0);
}

double sl_compare_fisher_exact(int64_t a, int64_t b, int64_t c, int64_t d)
{
    /* The sum runs over one cell's range: bounded counts keep it short (and exact). */
    const int64_t max_count = (int64_t)1 << 31;
    if (a < 0 || b < 0 || c < 0 || d < 0 || a > max_count || b > max_count || c > max_count ||
        d > max_count)
        return NAN;
    int64_t row1 = a + b, row2 = c + d, col1 = a + c, n = row1 + row2;
    int64_t lo = col1 - row2 > 0 ? col1 - row2 : 0, hi = row1 < col1 ? row1 : col1;
    /* P(X = k): k in the first cell, the margins fixed (hypergeometric). */
    double log_den = log_choose(n, col1);
    double p_obs = exp(log_choose(row1, a) + log_choose(row2, col1 - a) - log_den);
    double p = 0.0;
    for (int64_t k = lo; k <= hi; k++) {
        double pk = exp(log_choose(row1, k) + log_choose(row2, col1 - k) - log_den);
        if (pk <= p_obs * (1.0 + 1e-7))
            p += pk;
    }
    return p > 1.0 ? 1.0 : p;
}

/* The mean and sample variance of x[0..n-1], n >= 1 (variance 0 for n < 2).  Shifted by
 * x[0], so a constant sample has exactly its value as mean and 0 as variance, whatever n
 * (sum/n of equal values rounds differently for different n). */
void sl_compare_mean_var(const double *x, size_t n, double *mean, double *var)
{
    double shift = x[0], d = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        d += x[i] - shift;
    d /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - shift - d) * (x[i] - shift - d);
    *mean = shift + d;
    *var = n > 1 ? ss / (double)(n - 1) : 0.0;
}

double sl_compare_welch(const double *x, size_t nx, const double *y, size_t ny, double *t,
                        double *df)
{
    double tt = NAN, dd = NAN, p = NAN;
    if (x && y && nx >= 2 && ny >= 2) {
        double mx, vx, my, vy;
        sl_compare_mean_var(x, nx, &mx, &vx);
        sl_compare_mean_var(y, ny, &my, &vy);
        double sx = vx / (double)nx, sy = vy / (double)ny, se2 = sx + sy;
        if (se2 > 0.0) {
            tt = (mx - my) / sqrt(se2);
            dd = se2 * se2 / (sx * sx / (double)(nx - 1) + sy * sy / (double)(ny - 1));
            p = t_two_sided(tt, dd);
        } else { /* no spread on either side */
            tt = mx == my ? 0.0 : (mx > my ? INFINITY : -INFINITY);
            p = mx == my ? 1.0 : 0.0;
        }
    }
    if (t)
        *t = tt;
    if (df)
        *df = dd;
    return p;
}
