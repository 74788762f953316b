#!/usr/bin/env bash
# postfix-instance.sh — a private Postfix on loopback, the benchmark's baseline peer.
#
#   postfix-instance.sh start DIR PORT    set up DIR (config, queue, data), start the master
#   postfix-instance.sh relay DIR PORT TRANSPORT   the same, but relaying: queue manager and
#                                         smtp client on, transport_maps = texthash:TRANSPORT
#                                         (lines "d1.relay.test smtp:[127.0.0.1]:PORT")
#   postfix-instance.sh stop  DIR         stop this instance (its own master PID), remove its queue
#   postfix-instance.sh children DIR      PIDs of the instance's processes (for memory figures)
#   postfix-instance.sh count DIR         queue files (messages) in the instance's queue
#   postfix-instance.sh purge DIR         delete every queued message (postsuper -d ALL)
#
# It never touches /etc/postfix or the system instance: config_directory, queue_directory and
# data_directory are all under DIR (chmod 755, so the postfix user can traverse it). smtpd
# listens on 127.0.0.1:PORT only. The queue manager is left out of master.cf, so accepted mail
# stays in the queue and is never delivered: like petrel in the benchmark, this measures
# accepting (Postfix fsyncs the queue file before its 250). Without qmgr there are no
# flow-control tokens, so in_flow_delay=0 or smtpd would pause 1 s per message.
# `relay` (bench/relay.sh) keeps Postfix's defaults instead (qmgr, in_flow_delay 1 s,
# default_destination_concurrency_limit 20, connection cache on demand) and delivers each
# domain where TRANSPORT says; a recipient it does not list goes to the closed relayhost.
# Chroot off, TLS off, no DNS lookups that leave the machine.
set -euo pipefail
cmd=${1:?usage: postfix-instance.sh start|relay|stop|children|count|purge DIR [PORT [TRANSPORT]]}
DIR=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
ETC=$DIR/etc; Q=$DIR/queue; DATA=$DIR/data

master_pid() { [ -f "$Q/pid/master.pid" ] && tr -d ' \n' <"$Q/pid/master.pid"; }

case $cmd in
start|relay)
  PORT=${3:?PORT}
  TRANSPORT=""
  if [ "$cmd" = relay ]; then
    TRANSPORT=$(cd "$(dirname "${4:?TRANSPORT file}")" && pwd)/$(basename "$4")
    [ -f "$TRANSPORT" ] || { echo "no transport map $TRANSPORT" >&2; exit 2; }
  fi
  command -v postfix >/dev/null || { echo "postfix is not installed" >&2; exit 2; }
  mkdir -p "$ETC" "$Q" "$DATA"
  chmod 755 "$DIR"
  chown postfix:postfix "$DATA"
  cp /etc/postfix/postfix-files "$ETC/"
  [ -d /etc/postfix/postfix-files.d ] && cp -r /etc/postfix/postfix-files.d "$ETC/"
  [ -f /etc/postfix/dynamicmaps.cf ] && cp /etc/postfix/dynamicmaps.cf "$ETC/"
  [ -d /etc/postfix/dynamicmaps.cf.d ] && cp -r /etc/postfix/dynamicmaps.cf.d "$ETC/"
  : >"$ETC/main.cf"
  # The services an accept-only smtpd needs; no qmgr, so nothing leaves the queue.
  # Relaying adds the queue manager and the delivery agents it may call.
  cat >"$ETC/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - 600 smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
proxymap  unix  - - n -  - proxymap
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
  [ -n "$TRANSPORT" ] && cat >>"$ETC/master.cf" <<EOF
qmgr      unix  n - n 300 1 qmgr
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
showq     unix  n - n -  - showq
flush     unix  n - n 1000? 0 flush
EOF
  postconf -c "$ETC" -e \
    compatibility_level=3.6 \
    config_directory="$ETC" queue_directory="$Q" data_directory="$DATA" \
    mail_owner=postfix setgid_group=postdrop \
    myhostname=mx.bench.test mydomain=bench.test myorigin=bench.test \
    mydestination= local_recipient_maps= local_transport=error:local_disabled \
    inet_interfaces=loopback-only inet_protocols=ipv4 mynetworks=127.0.0.0/8 \
    smtpd_relay_restrictions=permit_mynetworks,reject \
    smtpd_recipient_restrictions=permit_mynetworks,reject \
    relayhost='[127.0.0.1]:9' \
    smtpd_tls_security_level=none smtp_tls_security_level=none \
    default_process_limit=600 in_flow_delay=0s \
    alias_maps= alias_database= biff=no append_dot_mydomain=no \
    smtpd_peername_lookup=no \
    maillog_file="$DIR/maillog" maillog_file_prefixes="$DIR"
  [ -n "$TRANSPORT" ] && postconf -c "$ETC" -e \
    transport_maps="texthash:$TRANSPORT" in_flow_delay=1s
  postfix -c "$ETC" start >/dev/null 2>&1 || { postfix -c "$ETC" check; exit 1; }
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      echo "postfix master pid $(master_pid) on 127.0.0.1:$PORT"; exit 0
    fi
    sleep 0.05
  done
  echo "postfix did not listen on $PORT" >&2; exit 1
  ;;
stop)
  pid=$(master_pid || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    postfix -c "$ETC" stop >/dev/null 2>&1 || kill -TERM "$pid"
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$Q"
  ;;
children)
  pid=$(master_pid)
  echo "$pid"; pgrep -P "$pid" || true
  ;;
count)
  find "$Q/maildrop" "$Q/incoming" "$Q/active" "$Q/deferred" "$Q/hold" -type f 2>/dev/null | wc -l
  ;;
purge) postsuper -c "$ETC" -d ALL >/dev/null 2>&1 ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
