/*
  YARA rules of the scan pack (rules/t1204_003/scan/): common Linux
  cryptocurrency miners, the files that point them at a pool, and UPX-packed
  ELF executables. `pickaxe scan` runs them over every file of an image; the
  names of the rules that match a file are its event's `yara.rule`, their
  tags its `yara.tags` (docs/SCAN.md).

  Written from public descriptions of XMRig and its forks: XMRig's documented
  command-line options and config.json keys, its donation servers, the
  stratum URL schemes miners take, and the UPX executable packer's file
  format. Every rule but the UPX ones is tagged `miner`, which the EQL rules
  miner_file_in_image.toml and miner_file_deleted_in_image.toml read; the
  UPX ones are tagged `packer`, read by packed_executable_in_image.toml.

  Only plain strings, regular expressions, uint32() and `in` ranges: no
  modules. The pool domains between the list marks come from
  rules/t1204_003/lists/pool-domains.txt, written by scripts/pack_lists.py.

  None of them matches a file under /usr/bin, /usr/lib/x86_64-linux-gnu, /bin
  or /sbin of a Debian bookworm system.
*/

rule XMRig_Config_File : miner config
{
  meta:
    description = "An XMRig configuration (config.json): the donate-level key beside the keys of its CPU, RandomX and pool sections"
    author = "pickaxe"
    reference = "XMRig reads its pools, wallet and tuning from config.json beside the binary, ~/.xmrig.json or ~/.config/xmrig.json; images that mine ship one (T1204.003, T1496)"
  strings:
    $donate = "\"donate-level\"" ascii wide
    $k_donate_proxy = "\"donate-over-proxy\"" ascii wide
    $k_randomx = "\"randomx\"" ascii wide
    $k_huge_pages = "\"huge-pages\"" ascii wide
    $k_1gb_pages = "\"1gb-pages\"" ascii wide
    $k_hint = "\"max-threads-hint\"" ascii wide
    $k_pools = "\"pools\"" ascii wide
    $k_rig_id = "\"rig-id\"" ascii wide
    $k_nicehash = "\"nicehash\"" ascii wide
    $k_keepalive = "\"keepalive\"" ascii wide
    $k_wrmsr = "\"wrmsr\"" ascii wide
    $k_rdmsr = "\"rdmsr\"" ascii wide
    $k_cpu = "\"cpu\"" ascii wide
  condition:
    filesize < 2MB and $donate and 3 of ($k_*)
}

rule XMRig_Miner_Binary : miner
{
  meta:
    description = "An ELF executable of XMRig or a fork: its donation servers, or several of the command-line options only XMRig takes, or its name beside its algorithm names"
    author = "pickaxe"
    reference = "XMRig's usage text lists --donate-level, --randomx-1gb-pages, --cpu-max-threads-hint and others; its binary names donate.v2.xmrig.com and donate.ssl.xmrig.com; campaigns rename the binary but keep these (T1496)"
  strings:
    $donate_v2 = "donate.v2.xmrig.com" ascii
    $donate_ssl = "donate.ssl.xmrig.com" ascii
    $opt_donate = "--donate-level" ascii
    $opt_donate_proxy = "--donate-over-proxy" ascii
    $opt_1gb = "--randomx-1gb-pages" ascii
    $opt_rx_mode = "--randomx-mode" ascii
    $opt_rx_numa = "--randomx-no-numa" ascii
    $opt_hint = "--cpu-max-threads-hint" ascii
    $opt_priority = "--cpu-priority" ascii
    $opt_rig = "--rig-id" ascii
    $opt_nicehash = "--nicehash" ascii
    $name = "XMRig" ascii
    $algo_rx0 = "rx/0" ascii
    $algo_rx_wow = "rx/wow" ascii
    $algo_cn_r = "cn/r" ascii
    $algo_cn_heavy = "cn-heavy/" ascii
    $algo_argon = "argon2/chukwa" ascii
  condition:
    uint32(0) == 0x464c457f and
    (any of ($donate_*) or 3 of ($opt_*) or ($name and 2 of ($algo_*)))
}

rule Stratum_Miner_Binary : miner
{
  meta:
    description = "An ELF executable that speaks the stratum mining protocol: a stratum URL scheme beside the protocol's JSON-RPC methods (cpuminer, cgminer, ethminer and their forks)"
    author = "pickaxe"
    reference = "Stratum miners subscribe, authorize and submit shares with mining.subscribe, mining.authorize and mining.submit over stratum+tcp:// (T1496)"
  strings:
    $scheme_tcp = "stratum+tcp://" ascii
    $scheme_ssl = "stratum+ssl://" ascii
    $scheme_tls = "stratum+tls://" ascii
    $scheme_v2 = "stratum2+tcp://" ascii
    $rpc_subscribe = "mining.subscribe" ascii
    $rpc_authorize = "mining.authorize" ascii
    $rpc_submit = "mining.submit" ascii
    $rpc_notify = "mining.notify" ascii
  condition:
    uint32(0) == 0x464c457f and any of ($scheme_*) and 2 of ($rpc_*)
}

rule Stratum_Pool_URL : miner pool
{
  meta:
    description = "A stratum URL with a host and a port (stratum+tcp://host:3333, stratum+ssl://, stratum+tls://, stratum1+tcp://, stratum2+tcp://): a miner's pool, in a script, a configuration or a binary"
    author = "pickaxe"
    reference = "Miners take their pool as a stratum URL (XMRig's -o / \"url\", cpuminer's -o, SRBMiner's --pool); a scheme without a host, as in documentation and IDS rules, does not match (T1496)"
  strings:
    $url = /stratum[12]?\+(tcp|ssl|tls):\/\/[a-z0-9][a-z0-9.-]{2,253}:[0-9]{2,5}/ ascii wide nocase
  condition:
    $url
}

rule Mining_Pool_Host_Port : miner pool
{
  meta:
    description = "A known mining pool's host with a port (pool.supportxmr.com:3333, gulf.moneroocean.stream:10128), as a miner's -o option or its config's url names it"
    author = "pickaxe"
    reference = "The pools of rules/t1204_003/lists/pool-domains.txt, from the pools' connect pages and public reporting on TeamTNT, Kinsing, WatchDog and 8220 Gang; a bare domain, as in a DNS blocklist, does not match (T1496)"
  strings:
    /* list: pool-domains as yara-host-ports */
    $pool_domains_2miners_com = /2miners\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_antpool_com = /antpool\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_c3pool_com = /c3pool\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_c3pool_org = /c3pool\.org:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_crypto_pool_fr = /crypto-pool\.fr:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_dwarfpool_com = /dwarfpool\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_ethermine_org = /ethermine\.org:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_ezil_me = /ezil\.me:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_f2pool_com = /f2pool\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_flypool_org = /flypool\.org:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_hashvault_pro = /hashvault\.pro:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_herominers_com = /herominers\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_hiveon_net = /hiveon\.net:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_kryptex_network = /kryptex\.network:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_minergate_com = /minergate\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_minexmr_com = /minexmr\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_miningpoolhub_com = /miningpoolhub\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_monerohash_com = /monerohash\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_moneroocean_stream = /moneroocean\.stream:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_nanopool_org = /nanopool\.org:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_nicehash_com = /nicehash\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_p2pool_io = /p2pool\.io:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_poolin_com = /poolin\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_prohashing_com = /prohashing\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_rplant_xyz = /rplant\.xyz:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_skypool_org = /skypool\.org:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_sparkpool_com = /sparkpool\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_supportxmr_com = /supportxmr\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_unmineable_com = /unmineable\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_viabtc_com = /viabtc\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_woolypooly_com = /woolypooly\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_xmrfast_com = /xmrfast\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_xmrig_com = /xmrig\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_xmrpool_eu = /xmrpool\.eu:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_xmrpool_net = /xmrpool\.net:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_zergpool_com = /zergpool\.com:[0-9]{2,5}/ ascii wide nocase
    $pool_domains_zpool_ca = /zpool\.ca:[0-9]{2,5}/ ascii wide nocase
    /* end list */
  condition:
    any of them
}

rule UPX_Packed_ELF : packer
{
  meta:
    description = "An ELF executable packed with UPX: the UPX! magic within its first kilobyte, or the packer's $Info stamp in an ELF without section headers"
    author = "pickaxe"
    reference = "UPX writes its l_info header, magic UPX!, right after the program headers of a packed ELF, drops the section header table, and leaves the stamp $Info: This file is packed with the UPX executable packer; miners and bots in malicious images are routinely UPX-packed to hide their strings from scanners"
  strings:
    $magic = "UPX!" ascii
    $info = "$Info: This file is packed with the UPX" ascii
  condition:
    uint32(0) == 0x464c457f and
    (
      $magic in (0..1024) or
      /* the stamp, in a file without section headers (e_shnum 0): not the upx tool itself, which has them */
      ($info and ((uint8(4) == 2 and uint16(0x3c) == 0) or (uint8(4) == 1 and uint16(0x30) == 0)))
    )
}

rule UPX_Packed_ELF_Magic_Removed : packer evasion
{
  meta:
    description = "An ELF executable without section headers that carries UPX's stamps ($Info, $Id: UPX) but no UPX! magic in its first kilobyte: a packed file whose header was altered so that upx -d refuses it"
    author = "pickaxe"
    reference = "Cryptojacking bots (Kinsing and TeamTNT samples among them) overwrite UPX's l_info magic so that the binary cannot be unpacked and scanned; the stamps and the missing section header table stay"
  strings:
    $magic = "UPX!" ascii
    $info = "$Info: This file is packed with the UPX" ascii
    $id = "$Id: UPX " ascii
  condition:
    uint32(0) == 0x464c457f and
    ((uint8(4) == 2 and uint16(0x3c) == 0) or (uint8(4) == 1 and uint16(0x30) == 0)) and
    ($info or $id) and not $magic in (0..1024)
}
