<?php
// One PHP Memcached session over the binary protocol against
// 127.0.0.1:PORT.  Prints one line per operation with its result and
// result code: test-binary-integration.c runs it against memcached and
// braid-memcached and wants the same lines from both.
$port = (int) $argv[1];
$m = new Memcached();
$m->setOption(Memcached::OPT_BINARY_PROTOCOL, true);
$m->setOption(Memcached::OPT_COMPRESSION, false);
$m->addServer('127.0.0.1', $port);

function note($label, $result) {
    global $m;
    echo $label, ': ', json_encode($result), ' (', $m->getResultCode(), ")\n";
    return $result;
}

note('flush', $m->flush());
note('set', $m->set('a', 'alpha'));
note('get', $m->get('a'));
note('get missing', $m->get('missing'));
note('setMulti', $m->setMulti(['k1' => 'v1', 'k2' => 'v2', 'k3' => 3]));
$multi = $m->getMulti(['k1', 'k2', 'k3', 'nope']);
ksort($multi);
note('getMulti', $multi);
note('add existing', $m->add('a', 'x'));
note('add new', $m->add('b', 'beta'));
note('replace missing', $m->replace('zz', 'x'));
note('replace', $m->replace('b', 'BETA'));
note('append', $m->append('b', '>>'));
note('prepend', $m->prepend('b', '<<'));
note('append missing', $m->append('zz', '>>'));
note('get appended', $m->get('b'));
$extended = note('get extended', $m->get('a', null, Memcached::GET_EXTENDED)['value']);
$cas = $m->get('a', null, Memcached::GET_EXTENDED)['cas'];
note('cas is a positive int', is_int($cas) && $cas > 0);
note('cas right', $m->cas($cas, 'a', 'alpha2'));
note('cas stale', $m->cas($cas, 'a', 'alpha3'));
note('get after cas', $m->get('a'));
note('set counter', $m->set('n', '10'));
note('increment', $m->increment('n', 5));
note('decrement', $m->decrement('n', 3));
note('decrement below zero', $m->decrement('n', 100));
note('increment missing', $m->increment('nope', 1));
note('increment with initial', $m->increment('fresh', 1, 42, 0));
note('increment after initial', $m->increment('fresh', 1, 42, 0));
note('decrement with initial', $m->decrement('fresh2', 1, 7, 0));
note('increment non-numeric', $m->increment('a', 1));
note('delete', $m->delete('a'));
note('delete missing', $m->delete('a'));
note('deleteMulti', $m->deleteMulti(['k1', 'k2']));
note('touch', $m->touch('b', 100));
note('touch missing', $m->touch('gone', 100));
$big = str_repeat('x', 600 * 1024);
note('set large', $m->set('big', $big));
note('get large', $m->get('big') === $big);
note('set too large', $m->set('huge', str_repeat('y', 2 * 1024 * 1024)));
$keys = $m->getAllKeys();
if (is_array($keys)) {
    sort($keys);
}
note('getAllKeys', $keys);
note('getStats has version', is_array($m->getStats()) && count($m->getStats()) == 1);
note('flush', $m->flush());
note('get after flush', $m->get('b'));
