#!/usr/bin/env bash
# Where bytes wait during a benchmark: sums the Recv-Q and Send-Q of every established TCP socket by role,
# for the ports bench/run.ts uses (balancer 21000 for parley, 21500 for the peer; instances base+101…110).
#   k6 (client sockets): peer port is the balancer      haproxy front: local port is the balancer
#   haproxy back: peer port is an instance               instance: local port is an instance
# Run it while `npm run bench -- chat 10k` sends, a few times, e.g. `for i in 1 2 3 4; do bash bench/queues.sh; sleep 8; done`.
ss -tnH state established 2>/dev/null | awk '
{ rq=$1; sq=$2; split($3,l,":"); split($4,p,":"); lp=l[length(l)]; pp=p[length(p)];
  if (pp==21000||pp==21500) {role="k6 (client sockets)"}
  else if (lp==21000||lp==21500) {role="haproxy front"}
  else if ((pp>=21101&&pp<=21110)||(pp>=21601&&pp<=21610)) {role="haproxy back"}
  else if ((lp>=21101&&lp<=21110)||(lp>=21601&&lp<=21610)) {role="instance"}
  else next;
  R[role]+=rq; S[role]+=sq; N[role]++; if (rq>0) RN[role]++; if (sq>0) SN[role]++ }
END { for (r in N) printf "%-22s n=%6d  RecvQ=%10d (%5d nonzero)  SendQ=%10d (%5d nonzero)\n", r, N[r], R[r], RN[r], S[r], SN[r] }'
