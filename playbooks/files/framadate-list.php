<?php
// chaton migrate --from-host (playbooks/migrate-list.yml): the admin id of
// every poll of this host's Framadate, oldest first, as a JSON array. Reads
// the database with Framadate's own config.php; changes nothing.
//
//   php framadate-list.php CONFIG_PHP
declare(strict_types=1);

if ($argc !== 2) {
    fwrite(STDERR, "usage: php framadate-list.php CONFIG_PHP\n");
    exit(2);
}
require $argv[1];
$db = new PDO(DB_CONNECTION_STRING, DB_USER, DB_PASSWORD, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$ids = $db->query('SELECT admin_id FROM `' . TABLENAME_PREFIX . 'poll` ORDER BY creation_date, id')
    ->fetchAll(PDO::FETCH_COLUMN);
echo json_encode(array_values(array_map('strval', $ids))), "\n";
