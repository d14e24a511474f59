#!/usr/bin/env bash
# packaging.sh — META.json is valid PGXN metadata naming the control file's
# version, Changes has an entry for it, LICENSE is the PostgreSQL License.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" custier.control)
perl -MJSON::PP -e '
  local $/; open my $f, "<", "META.json" or die "META.json: $!\n";
  my $m = JSON::PP->new->decode(<$f>);
  my $v = $ARGV[0];
  for my $k (qw(name abstract version maintainer license provides meta-spec)) { die "META.json lacks $k\n" unless exists $m->{$k} }
  die "META.json version $m->{version} is not $v\n" unless $m->{version} eq $v;
  die "META.json provides custier $m->{provides}{custier}{version}, not $v\n" unless $m->{provides}{custier}{version} eq $v;
  die "META.json license is not postgresql\n" unless $m->{license} eq "postgresql";
' "$version"
grep -q "^$version " Changes || { echo "Changes has no entry for $version" >&2; exit 1; }
grep -q "PostgreSQL License" LICENSE || { echo "LICENSE is not the PostgreSQL License" >&2; exit 1; }
grep -q "^requires *= *'plpgsql'" custier.control || { echo "custier.control does not require plpgsql" >&2; exit 1; }
echo "custier $version: META.json, Changes, LICENSE and custier.control agree"
