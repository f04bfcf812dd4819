using System.Globalization;
using System.Numerics;

namespace R1Sharp.Tasks.Answers;

/// <summary>
/// An exact fraction. Integers, decimals, fractions, percents and powers with integer exponents compare
/// exactly, so 0.3333 never equals 1/3 and a 13-digit n never equals n+1.
/// </summary>
public readonly record struct Rational
{
    public BigInteger Numerator { get; }
    /// <summary>Always positive; the fraction is kept in lowest terms.</summary>
    public BigInteger Denominator { get; }

    public Rational(BigInteger numerator, BigInteger denominator)
    {
        if (denominator.IsZero) throw new DivideByZeroException();
        if (denominator.Sign < 0) (numerator, denominator) = (-numerator, -denominator);
        var gcd = BigInteger.GreatestCommonDivisor(numerator, denominator);
        if (!gcd.IsOne && !gcd.IsZero) (numerator, denominator) = (numerator / gcd, denominator / gcd);
        Numerator = numerator;
        Denominator = numerator.IsZero ? BigInteger.One : denominator;
    }

    public static implicit operator Rational(long value) => new(value, 1);

    public bool IsInteger => Denominator.IsOne;
    public bool IsZero => Numerator.IsZero;
    public int Sign => Numerator.Sign;

    public static Rational operator +(Rational a, Rational b) =>
        new(a.Numerator * b.Denominator + b.Numerator * a.Denominator, a.Denominator * b.Denominator);
    public static Rational operator -(Rational a, Rational b) =>
        new(a.Numerator * b.Denominator - b.Numerator * a.Denominator, a.Denominator * b.Denominator);
    public static Rational operator *(Rational a, Rational b) =>
        new(a.Numerator * b.Numerator, a.Denominator * b.Denominator);
    public static Rational operator /(Rational a, Rational b) =>
        new(a.Numerator * b.Denominator, a.Denominator * b.Numerator);
    public static Rational operator -(Rational a) => new(-a.Numerator, a.Denominator);

    public static Rational Pow(Rational value, int exponent) => exponent >= 0
        ? new(BigInteger.Pow(value.Numerator, exponent), BigInteger.Pow(value.Denominator, exponent))
        : new(BigInteger.Pow(value.Denominator, -exponent), BigInteger.Pow(value.Numerator, -exponent));

    /// <summary>Bits needed to write the fraction; guards exact powers against answers like 10^{10^9}.</summary>
    public long BitLength => (long)Numerator.GetBitLength() + (long)Denominator.GetBitLength();

    public double ToDouble()
    {
        // Keep ~60 significant bits of each part so huge fractions don't become inf/inf.
        int numeratorShift = Math.Max(0, (int)BigInteger.Abs(Numerator).GetBitLength() - 60);
        int denominatorShift = Math.Max(0, (int)Denominator.GetBitLength() - 60);
        return Math.ScaleB((double)(Numerator >> numeratorShift) / (double)(Denominator >> denominatorShift), numeratorShift - denominatorShift);
    }

    /// <summary>Parses a plain decimal such as "12", "-0.5", "1.25e-3" exactly; null if it is not one.</summary>
    public static Rational? ParseDecimal(string text)
    {
        text = text.Trim();
        int exponent = 0;
        int e = text.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            if (!int.TryParse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent)
                || Math.Abs(exponent) > 1000) return null;
            text = text[..e];
        }
        bool negative = text.StartsWith('-');
        if (negative || text.StartsWith('+')) text = text[1..];
        int dot = text.IndexOf('.');
        string whole = dot < 0 ? text : text[..dot], fraction = dot < 0 ? "" : text[(dot + 1)..];
        if (whole.Length + fraction.Length == 0 || !(whole + fraction).All(char.IsAsciiDigit)) return null;
        var digits = BigInteger.Parse("0" + whole + fraction, CultureInfo.InvariantCulture);
        var value = new Rational(digits, BigInteger.Pow(10, fraction.Length)) * Pow(10, exponent);
        return negative ? -value : value;
    }

    public override string ToString() => IsInteger
        ? Numerator.ToString(CultureInfo.InvariantCulture)
        : $"{Numerator.ToString(CultureInfo.InvariantCulture)}/{Denominator.ToString(CultureInfo.InvariantCulture)}";
}
