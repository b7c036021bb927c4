<?php
// chaton migrate (playbooks/migrate.yml): write one poll, read from another
// Framadate's admin page (plugins/filter/chaton_framadate.py), into this
// host's Framadate, in one transaction: the poll, its choices, votes and
// comments, in the tables and with the ids Framadate 1.1 itself writes
// (PollService::createPoll, VoteRepository::insert, CommentRepository::insert).
// Framadate has no import of its own.
//
//   php framadate-import.php CONFIG_PHP POLL_JSON
//
// POLL_JSON: {"id": public id (16), "default_days": N, "poll": {...}}. The
// public id comes from the source's admin address: a poll already written
// under it is reported "already there" and left alone (a second run, or a
// run taken up after an interruption, writes nothing twice).
// Prints one JSON object: status, id, admin_id, slots, votes, comments.
declare(strict_types=1);

if ($argc !== 3) {
    fwrite(STDERR, "usage: php framadate-import.php CONFIG_PHP POLL_JSON\n");
    exit(2);
}
require $argv[1];
$in = json_decode((string) file_get_contents($argv[2]), true, 64, JSON_THROW_ON_ERROR);
$poll = $in['poll'];
$id = (string) $in['id'];
if (!preg_match('/^[a-zA-Z0-9]{16}$/', $id)) {
    fwrite(STDERR, "not a poll id: $id\n");
    exit(2);
}

$db = new PDO(DB_CONNECTION_STRING, DB_USER, DB_PASSWORD, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$table = fn(string $name): string => '`' . TABLENAME_PREFIX . $name . '`';

function counts(PDO $db, callable $table, string $id): array
{
    $n = [];
    foreach (['slot' => 'slots', 'vote' => 'votes', 'comment' => 'comments'] as $t => $key) {
        $q = $db->prepare('SELECT COUNT(*) FROM ' . $table($t) . ' WHERE poll_id = ?');
        $q->execute([$id]);
        $n[$key] = (int) $q->fetchColumn();
    }
    return $n;
}

// Framadate's own alphabet and length for ids (Security\Token), from a CSPRNG.
function token(int $length): string
{
    $alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    $s = '';
    for ($i = 0; $i < $length; $i++) {
        $s .= $alphabet[random_int(0, strlen($alphabet) - 1)];
    }
    return $s;
}

$q = $db->prepare('SELECT admin_id FROM ' . $table('poll') . ' WHERE id = ?');
$q->execute([$id]);
$existing = $q->fetchColumn();
if ($existing !== false) {
    echo json_encode(['status' => 'already there', 'id' => $id, 'admin_id' => $existing] + counts($db, $table, $id)), "\n";
    exit(0);
}

$end = $poll['end_date'] !== ''
    ? $poll['end_date'] . ' 00:00:00'
    : date('Y-m-d 00:00:00', time() + 86400 * (int) $in['default_days']);
$admin = $id . token(8);

$db->beginTransaction();
try {
    $db->prepare(
        'INSERT INTO ' . $table('poll') . ' (id, admin_id, title, description, admin_name, admin_mail, end_date, format,'
        . ' editable, receiveNewVotes, receiveNewComments, hidden, password_hash, results_publicly_visible, active)'
        . ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, NULL, ?, ?)'
    )->execute([
        $id, $admin, $poll['title'], $poll['description'], $poll['admin_name'], $poll['admin_mail'], $end,
        $poll['format'], (int) $poll['editable'], (int) $poll['hidden'], (int) $poll['results_publicly_visible'],
        (int) $poll['active'],
    ]);
    $slot = $db->prepare('INSERT INTO ' . $table('slot') . ' (poll_id, title, moments) VALUES (?, ?, ?)');
    foreach ($poll['slots'] as $s) {
        $slot->execute([$id, $s['title'], $s['moments']]);
    }
    $vote = $db->prepare('INSERT INTO ' . $table('vote') . ' (poll_id, name, choices, uniqId) VALUES (?, ?, ?, ?)');
    foreach ($poll['votes'] as $v) {
        $vote->execute([$id, $v['name'], $v['choices'], token(16)]);
    }
    $dated = $db->prepare('INSERT INTO ' . $table('comment') . ' (poll_id, name, comment, date) VALUES (?, ?, ?, ?)');
    $undated = $db->prepare('INSERT INTO ' . $table('comment') . ' (poll_id, name, comment) VALUES (?, ?, ?)');
    foreach ($poll['comments'] as $c) {
        if ($c['date'] !== '') {
            $dated->execute([$id, $c['name'], $c['comment'], $c['date']]);
        } else {
            $undated->execute([$id, $c['name'], $c['comment']]);
        }
    }
    $db->commit();
} catch (Throwable $e) {
    $db->rollBack();
    fwrite(STDERR, 'the poll was not written: ' . $e->getMessage() . "\n");
    exit(1);
}
echo json_encode(['status' => 'imported', 'id' => $id, 'admin_id' => $admin] + counts($db, $table, $id)), "\n";
