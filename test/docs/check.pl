#!/usr/bin/perl
# The docs test: runs every ```sql block of the Markdown files named on the
# command line, in order, each file in a fresh database, and checks them.
#
#   perl test/docs/check.pl [--update] README.md doc/*.md   (PGHOST etc. set,
#   as a superuser; --update rewrites each ```output block that differs with
#   what psql printed: put an empty ```output block after a ```sql block and
#   run it to fill it in, then read the result before committing it)
#
# Rules (test/README.md explains them to doc writers):
# - a ```sql block must run without error, unless its first line is
#   `-- error: XXXXX`: then it must raise that SQLSTATE, and no other;
# - a ```sql block immediately followed (blank lines allowed) by an
#   ```output block must print exactly that output (psql -X -q, aligned
#   format, footer included; trailing blanks of lines and trailing empty
#   lines are ignored);
# - any other fence (```sh, ```text, ...) is not run; but a fence whose info
#   string starts with "sql" and says more (```sql norun), a first line that
#   looks like a marker but is not `-- error: XXXXX`, and an ```output block
#   that follows no ```sql block are mistakes and fail the test.
# Each file's database has `CREATE EXTENSION custier` and search_path
# "$user", public, custier; the blocks run in one psql session, as the
# superuser; the roles the file created are dropped afterwards.
use strict;
use warnings;

my $update = (@ARGV && $ARGV[0] eq "--update") ? shift @ARGV : undef;
my $psql = $ENV{PSQL} // 'psql';
my @files = @ARGV or die "usage: $0 FILE.md...\n";
my ($nfiles, $nblocks, $noutputs, $nerrors, @failures) = (0, 0, 0, 0);

sub fail { push @failures, join('', @_) }

# Runs psql on a database with the given input; returns (stdout, stderr).
sub psql_run {
    my ($db, $input, @opts) = @_;
    my $tmp = "/tmp/custier-docs.$$";
    open(my $in, '>', "$tmp.in") or die "$tmp.in: $!";
    print $in $input;
    close $in;
    system("$psql -X -q @opts -d '$db' -f '$tmp.in' >'$tmp.out' 2>'$tmp.err'");
    local $/;
    open(my $o, '<', "$tmp.out") or die; my $out = <$o>; close $o;
    open(my $e, '<', "$tmp.err") or die; my $err = <$e>; close $e;
    unlink "$tmp.in", "$tmp.out", "$tmp.err";
    return ($out, $err);
}

# Admin statements: must succeed.
sub admin {
    my ($db, $sql) = @_;
    my ($out, $err) = psql_run($db, $sql, '-v ON_ERROR_STOP=1 -At');
    die "docs test setup failed on database $db:\n$sql\n$err" if $? != 0;
    return $out;
}

# Parses one Markdown file into its sql blocks:
# { line => first line of the block's body, text => body, state => SQLSTATE
#   or undef, output => expected output or undef, output_line => ... }
sub blocks_of {
    my ($file) = @_;
    open(my $fh, '<', $file) or die "$file: $!";
    my @lines = <$fh>;
    close $fh;
    my (@blocks, $last_sql_closed_at);
    my $i = 0;
    while ($i < @lines) {
        my $l = $lines[$i];
        if ($l =~ /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)(.*?)\s*$/) {
            my ($indent, $fence, $lang, $rest) = ($1, $2, $3, $4);
            my $start = $i + 1;            # 1-based line of the fence
            my @body;
            $i++;
            while ($i < @lines && $lines[$i] !~ /^\s*\Q$fence\E\s*$/) {
                my $n = length $indent;
                (my $b = $lines[$i]) =~ s/^ {0,$n}//;
                push @body, $b;
                $i++;
            }
            fail("$file:$start: unclosed ``` fence") if $i >= @lines;
            my $end = $i + 1;
            $i++;
            if ($lang eq 'sql' && $rest ne '') {
                fail("$file:$start: unknown marker on a sql fence: \"$lang$rest\" (only plain ```sql is run)");
            } elsif ($lang =~ /^sql./i || $lang eq 'SQL') {
                fail("$file:$start: unknown marker on a sql fence: \"$lang$rest\" (only plain ```sql is run)");
            } elsif ($lang eq 'sql') {
                my $state;
                my $first = $body[0] // '';
                if ($first =~ /^\s*--\s*error:\s*(\S*)\s*$/i) {
                    $state = $1;
                    fail("$file:", $start + 1, ": marker \"-- error:\" needs one SQLSTATE (5 digits or capitals), got \"$state\"")
                        unless $state =~ /^[0-9A-Z]{5}$/ && $first =~ /^-- error: /;
                } elsif ($first =~ /^\s*--\s*(errors?|expect\w*|output|skip|norun|no-run|sqlstate|fails?)\b\s*:?/i) {
                    fail("$file:", $start + 1, ": unknown marker \"", $first =~ s/\s+$//r,
                         "\" (the only marker is \"-- error: XXXXX\")");
                }
                push @blocks, { line => $start, text => join('', @body), state => $state };
                $last_sql_closed_at = $end;
            } elsif ($lang eq 'output') {
                my $between = $last_sql_closed_at
                    ? join('', @lines[$last_sql_closed_at .. $start - 2]) : 'x';
                if (!$last_sql_closed_at || $between =~ /\S/ || defined $blocks[-1]{output}) {
                    fail("$file:$start: an ```output block must follow a ```sql block directly");
                } else {
                    $blocks[-1]{output} = join('', @body);
                    $blocks[-1]{output_line} = $start;
                    $blocks[-1]{output_end} = $end;
                }
            }
            next;
        }
        $i++;
    }
    return @blocks;
}

sub normalize {
    my ($s) = @_;
    my @l = map { s/\s+$//r } split /\n/, $s, -1;
    pop @l while @l && $l[-1] eq '';
    shift @l while @l && $l[0] eq '';
    return join("\n", @l);
}

my @initial_roles = split /\n/, admin('postgres', 'SELECT rolname FROM pg_roles ORDER BY 1');
my %initial = map { $_ => 1 } @initial_roles;

for my $file (@files) {
    my @blocks = blocks_of($file);
    $nfiles++;
    next unless @blocks;
    (my $db = "custier_docs_$file") =~ s/[^A-Za-z0-9]+/_/g;
    $db = lc $db;
    admin('postgres', "DROP DATABASE IF EXISTS $db;\nCREATE DATABASE $db;");
    admin($db, "SET client_min_messages = warning;\nCREATE EXTENSION custier;\n"
              . "ALTER DATABASE $db SET search_path = \"\$user\", public, custier;");

    # One script, each block between markers on both streams; %where maps a
    # line of the script to the line of the file.
    my ($script, $n, %where) = ("\\set VERBOSITY verbose\n\\set SHOW_CONTEXT never\n", 2);
    for my $k (0 .. $#blocks) {
        my $b = $blocks[$k];
        $script .= "\\echo '<<custier-docs $k>>'\n\\warn '<<custier-docs $k>>'\n";
        $n += 2;
        my @body = split /\n/, $b->{text};
        for my $j (0 .. $#body) {
            $script .= "$body[$j]\n";
            $where{++$n} = $b->{line} + 1 + $j;
        }
        # The last statement must be complete, else it would swallow the next block.
        my @code = grep { !/^\s*(--.*)?$/ } @body;
        if (@code && $code[-1] !~ /;\s*(--.*)?$/ && $code[-1] !~ /^\s*\\/) {
            fail("$file:$b->{line}: the block's last statement does not end with a semicolon");
        }
    }
    $script .= "\\echo '<<custier-docs end>>'\n\\warn '<<custier-docs end>>'\n";
    my ($out, $err) = psql_run($db, $script, '-v ON_ERROR_STOP=0');

    my @o = split /^<<custier-docs (\d+|end)>>\n/m, "\n$out", -1; shift @o; my %out = @o;
    my @e = split /^<<custier-docs (\d+|end)>>\n/m, "\n$err", -1; shift @e; my %err = @e;
    for my $k (0 .. $#blocks) {
        my $b = $blocks[$k];
        $nblocks++;
        my $at = "$file:$b->{line}";
        if (!exists $out{$k}) {
            fail("$at: the block did not run (psql stopped earlier)\n", $err{$k} // $err);
            next;
        }
        my @errs;         # [SQLSTATE, file line, message]
        for my $line (split /\n/, $err{$k} // '') {
            if ($line =~ /^psql:[^:]*:(\d+): (ERROR|FATAL|PANIC):  (?:([0-9A-Z]{5}): )?(.*)$/) {
                push @errs, [$3 // '?????', $where{$1} // '?', "$2:  $4"];
            } elsif ($line =~ /^psql:[^:]*:(\d+): error: (.*)$/) {
                push @errs, ['psql', $where{$1} // '?', "psql error: $2"];
            }
        }
        if (defined $b->{state}) {
            $nerrors++;
            if (!@errs) {
                fail("$at: expected an error with SQLSTATE $b->{state}, but the block ran without error");
            }
            for my $e (@errs) {
                next if $e->[0] eq $b->{state};
                fail("$file:$e->[1]: expected SQLSTATE $b->{state}, got $e->[0]: $e->[2]");
            }
        } else {
            for my $e (@errs) {
                fail("$file:$e->[1]: $e->[0] $e->[2]");
            }
        }
        if (defined $b->{output}) {
            $noutputs++;
            my ($want, $got) = (normalize($b->{output}), normalize($out{$k}));
            if ($want ne $got) {
                if ($update) { $b->{replace} = $got; next; }
                my $diff = '';
                my $tmp = "/tmp/custier-docs-diff.$$";
                open(my $w, '>', "$tmp.want"); print $w "$want\n"; close $w;
                open(my $g, '>', "$tmp.got"); print $g "$got\n"; close $g;
                $diff = `diff -u --label documented --label actual '$tmp.want' '$tmp.got'`;
                unlink "$tmp.want", "$tmp.got";
                fail("$file:$b->{output_line}: output differs from the documented one (- documented, + actual):\n$diff");
            }
        }
    }

    if ($update && grep { defined $_->{replace} } @blocks) {
        open(my $fh, '<', $file) or die; my @lines = <$fh>; close $fh;
        for my $b (reverse grep { defined $_->{replace} } @blocks) {
            splice(@lines, $b->{output_line}, $b->{output_end} - $b->{output_line} - 1, map { "$_\n" } split /\n/, $b->{replace}, -1);
        }
        open($fh, '>', $file) or die; print $fh @lines; close $fh;
        print "docs test: rewrote the output blocks of $file that differed\n";
    }

    # Drop what the file left: its roles, then its database.
    my @roles = grep { !$initial{$_} } split /\n/, admin('postgres', 'SELECT rolname FROM pg_roles ORDER BY 1');
    if (@roles) {
        my $list = join(', ', map { qq("$_") } @roles);
        admin($db, "DROP OWNED BY $list CASCADE;");
    }
    admin('postgres', "DROP DATABASE $db;");
    admin('postgres', join('', map { qq(DROP ROLE "$_";\n) } @roles)) if @roles;
}

if (@failures) {
    print STDERR "docs test: $_\n" for @failures;
    printf STDERR "docs test FAILED: %d problem(s) in %d blocks of %d files\n",
        scalar @failures, $nblocks, $nfiles;
    exit 1;
}
printf "docs: %d sql blocks of %d files ran (%d with checked output, %d with their expected error)\n",
    $nblocks, $nfiles, $noutputs, $nerrors;
exit 0;
